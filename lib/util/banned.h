/*
 * banned.h - libc calls we do not use (after git's banned.h). Forced into
 * every source file of lib/ and cli/ by the build's -include flag.
 */
#ifndef FR_BANNED_H
#define FR_BANNED_H

/* The headers that declare them come first, so their guards keep them out later. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#define FR_BANNED(func) sorry_##func##_is_banned_use_fr_buf_or_snprintf

#undef strcpy
#define strcpy(x, y) FR_BANNED(strcpy)
#undef strcat
#define strcat(x, y) FR_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) FR_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) FR_BANNED(strncat)
#undef sprintf
#define sprintf(...) FR_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) FR_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) FR_BANNED(strtok)
#undef gets
#define gets(x) FR_BANNED(gets)

#endif
