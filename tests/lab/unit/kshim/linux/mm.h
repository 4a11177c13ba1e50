/* SPDX-License-Identifier: MIT */
/* See linux/kernel.h. */
#include <linux/kernel.h>
