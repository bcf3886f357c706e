/* Status codes returned by every library function that can fail.
 * The library never exits; it logs what failed (call, result, file:line, next step) and returns a code.
 * Only the CLI and the test harness turn a status into an exit code. */
#ifndef VKTRAIN_STATUS_H
#define VKTRAIN_STATUS_H

typedef enum {
    VKT_OK = 0,
    VKT_ERR_VK = -1,          /* a Vulkan call failed (the log names it) */
    VKT_ERR_OOM = -2,         /* host or device memory exhausted */
    VKT_ERR_IO = -3,          /* a file could not be read or written */
    VKT_ERR_FORMAT = -4,      /* a file or config has bad content */
    VKT_ERR_UNSUPPORTED = -5, /* the device or build lacks a feature */
    VKT_ERR_ARG = -6,         /* a caller passed an impossible argument */
    VKT_ERR_DEVICE_LOST = -7, /* the driver lost the device; state is gone */
    VKT_ERR_NONFINITE = -8,   /* training diverged: NaN or inf in the loss, gradients or weights */
} vkt_status;

/* Short, stable name of a status ("VKT_ERR_IO"). Never NULL. */
const char *vkt_status_name(vkt_status s);

#endif
