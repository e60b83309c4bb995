/*
 * run.h - what the run engine's rooms share: run.c (up, the engine) calls
 * rehearse.c for --rehearse. Internal only.
 */
#ifndef FR_RUN_H
#define FR_RUN_H

#include "ferry_int.h"

/* up --rehearse (rehearse.c): the plan on a throw-away copy, reported, discarded. */
int fr_rehearse(ferry *f, const char *target, const ferry_run_options *o);

#endif
