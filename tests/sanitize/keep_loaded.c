/* Linked into every test executable and the vktrain program of a VKT_SANITIZE build only: dlclose() that keeps the library.
 *
 * The Vulkan loader dlcloses the driver (lavapipe) and the layers at vkDestroyInstance. LeakSanitizer
 * reports at exit, by which time those modules are unmapped: their frames print as "<unknown module>",
 * so the module names in tests/sanitize/lsan.supp cannot match and every test fails on the driver's
 * and the validation layer's process-lifetime allocations. An executable's definition of dlclose
 * takes precedence over libc's for the loader, so the modules stay mapped and their frames keep their
 * names. Nothing in vktrain itself calls dlclose. Not for normal builds: unloading is the right thing
 * there. */
int dlclose(void *handle);

int dlclose(void *handle) {
    (void)handle;
    return 0;
}
