// Debug-build contract checks. LB_DCHECK(cond) aborts with the failed condition, file and line
// when `cond` is false in builds without NDEBUG (fastbuild, dbg); in optimized builds it
// compiles to nothing (the condition is not evaluated). For contracts such as "loop thread
// only", never for input validation.
#ifndef LB_COMMON_BASE_CHECK_H_
#define LB_COMMON_BASE_CHECK_H_

#include <cstdio>
#include <cstdlib>

#ifdef NDEBUG
#define LB_DCHECK(cond) \
  do {                  \
  } while (false && (cond))
#else
#define LB_DCHECK(cond)                                                             \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)
#endif

#endif  // LB_COMMON_BASE_CHECK_H_
