/* SPDX-License-Identifier: MIT */
/* The kernel has no <stdint.h>: grant_abi.h's fixed-width types come from
 * <linux/types.h> when the module includes it. */
#ifndef XGRANT_SHIM_STDINT_H
#define XGRANT_SHIM_STDINT_H
#include <linux/types.h>
#ifndef UINT64_MAX
#define UINT64_MAX (~(u64)0)
#endif
#endif
