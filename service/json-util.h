/* SPDX-License-Identifier: MIT */
/* json-c helpers shared by the modules that write JSON. */
#pragma once

#include <json-c/json.h>

#include "macro.h"

static inline void json_object_putp(json_object **p)
{
        if (*p)
                json_object_put(*p);
}
#define _cleanup_json_ _cleanup_(json_object_putp)
