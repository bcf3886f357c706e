/* vktrain's public interface: one include for programs that embed the library.
 *   status.h  error codes          device.h  Vulkan devices: listing, choice, creation
 *   tensor.h  memory arenas, tensor views and host transfers
 * Training, models and ops are reached through the `vktrain` program for now; their headers live in
 * src/ until their interfaces settle. */
#ifndef VKTRAIN_H
#define VKTRAIN_H

#include "vktrain/device.h"
#include "vktrain/status.h"
#include "vktrain/tensor.h"

#endif
