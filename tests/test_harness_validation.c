/* The test harness never runs a test without the Vulkan validation layer unless told to: this binary
 * starts itself as a child under different environments and checks the child's exit code and message.
 *   VKT_VALIDATION unset (run by hand)            -> validation on, active, exit 0
 *   VKT_VALIDATION=1 (CTest)                      -> validation on, active, exit 0
 *   VKT_VALIDATION=0, or VKT_NO_VALIDATION=1      -> exit 1 naming VKT_TEST_ALLOW_NO_VALIDATION
 *   VKT_NO_VALIDATION=1 VKT_TEST_ALLOW_NO_VALIDATION=1 -> runs without it, says so, exit 0
 *   the layer not installed (VK_LAYER_PATH pointing at an empty folder) -> exit 1, not a silent run
 * The child also reports what its own process environment says, since devices a test creates itself (the
 * trainer's children in test_train_cli) read VKT_VALIDATION. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

static int child(void) {
    vkt_test t;
    vkt_test_init(&t, "harness_validation_child");
    const char *env = getenv("VKT_VALIDATION");
    printf("child: validation_active=%d VKT_VALIDATION=%s\n", vkt_device_validation_active(t.dev),
           env ? env : "(unset)");
    return vkt_test_finish(&t);
}

typedef struct {
    const char *what;
    const char *env; /* `env` arguments put before the child command */
    int want_rc;
    const char *want_in; /* substring the child's output must hold */
} hv_case;

static int run_case(const char *self, const hv_case *c) {
    char cmd[2048], out[8192] = "";
    snprintf(cmd, sizeof cmd,
             "env -u VKT_VALIDATION -u VKT_NO_VALIDATION -u VKT_TEST_ALLOW_NO_VALIDATION %s '%s' child 2>&1", c->env,
             self);
    FILE *p = popen(cmd, "r");
    if (!p) return printf("FAIL %s: popen failed\n", c->what), 1;
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p), rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    bool ok = rc == c->want_rc && strstr(out, c->want_in) != NULL;
    printf("   %-52s exit %d (want %d), output %s \"%s\": %s\n", c->what, rc, c->want_rc,
           strstr(out, c->want_in) ? "has" : "LACKS", c->want_in, ok ? "ok" : "FAIL");
    if (!ok) printf("FAIL harness_validation: %s; child output:\n%s\n", c->what, out);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) return child();
    printf("== harness_validation\n");
    const hv_case cases[] = {
        {"VKT_VALIDATION unset (a binary run by hand)", "", 0, "validation_active=1 VKT_VALIDATION=1"},
        {"VKT_VALIDATION=1 (as CTest sets it)", "VKT_VALIDATION=1", 0, "validation_active=1 VKT_VALIDATION=1"},
        {"VKT_VALIDATION=0", "VKT_VALIDATION=0", 1, "VKT_TEST_ALLOW_NO_VALIDATION=1"},
        {"VKT_NO_VALIDATION=1", "VKT_NO_VALIDATION=1", 1, "VKT_TEST_ALLOW_NO_VALIDATION=1"},
        {"VKT_VALIDATION=1 VKT_NO_VALIDATION=1", "VKT_VALIDATION=1 VKT_NO_VALIDATION=1", 1,
         "validation is switched off"},
        {"VKT_NO_VALIDATION=1 with the explicit opt-out", "VKT_NO_VALIDATION=1 VKT_TEST_ALLOW_NO_VALIDATION=1", 0,
         "validation_active=0 VKT_VALIDATION=(unset)"},
        {"validation layer not installed", "VK_LAYER_PATH=/nonexistent-vkt-layers", 1,
         "VK_LAYER_KHRONOS_validation is not installed"},
    };
    int failures = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) failures += run_case(argv[0], &cases[i]);
    printf("%s harness_validation (%d failure(s))\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
