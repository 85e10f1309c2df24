/* SPDX-License-Identifier: MIT */
/*
 * The built-in defaults, in one place. data/memguard.conf documents the
 * same values; tests/test-config.c checks that the two agree.
 */
#include "config.h"
#include "macro.h"
#include "level.h"
#include "pressure.h"

void pressure_params_default(PressureParams *p)
{
        *p = (PressureParams){
                .weight_psi = 0.55,
                .weight_swap = 0.20,
                .weight_gpu = 0.15,
                .weight_swap_io = 0.10,
                .psi_some_full_scale = 0.50,
                .psi_full_full_scale = 0.30,
                .swap_low = 0.25,
                .swap_high = 0.95,
                .swap_io_full_scale = 64.0 * 1024 * 1024,
                .gpu_full_scale = 0.50,
                .floor_critical_percent = 5.0,
                .floor_emergency_percent = 2.0,
                .rate_window_usec = 1 * USEC_PER_SEC,
        };
}

void level_params_default(LevelParams *p)
{
        *p = (LevelParams){
                .threshold = {
                        [LEVEL_NORMAL] = 0.0,
                        [LEVEL_ELEVATED] = 0.10,
                        [LEVEL_HIGH] = 0.30,
                        [LEVEL_CRITICAL] = 0.55,
                        [LEVEL_EMERGENCY] = 0.80,
                },
                .hysteresis = 0.05,
                .rise_samples = 3,
                .sharp_rise = 0.25,
                .calm_usec = 10 * USEC_PER_SEC,
        };
}

void trigger_params_default(TriggerParams *p)
{
        *p = (TriggerParams){
                .some_stall_usec = 50 * USEC_PER_MSEC,
                .full_stall_usec = 20 * USEC_PER_MSEC,
                .window_usec = 1 * USEC_PER_SEC,
                .fast_interval_usec = 250 * USEC_PER_MSEC,
                .heartbeat_usec = 10 * USEC_PER_SEC,
        };
}

void action_params_default(ActionParams *p)
{
        *p = (ActionParams){
                .kill_timeout_usec = 5 * USEC_PER_SEC,
                .kill_timeout_critical_usec = 2 * USEC_PER_SEC,
                .kill_timeout_emergency_usec = 500 * USEC_PER_MSEC,
                .max_frozen_usec = 600 * USEC_PER_SEC,
                .checkpoint = false,
                .criu = NULL,
                .checkpoint_timeout_usec = 60 * USEC_PER_SEC,
                .checkpoint_keep = 5,
                .checkpoint_max_age_usec = 7 * 86400 * USEC_PER_SEC,
                .hibernate = false,
                .hibernate_after_usec = 30 * USEC_PER_SEC,
                .hibernate_interval_usec = 30 * 60 * USEC_PER_SEC,
        };
}

void record_params_default(RecordParams *p)
{
        *p = (RecordParams){
                .event_log_max_bytes = 4 * 1024 * 1024,
                .event_log_keep = 3,
                .incidents_keep = 20,
        };
}

void hook_params_default(HookParams *p)
{
        *p = (HookParams){ .timeout_usec = 10 * USEC_PER_SEC };
}
