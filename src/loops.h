/* loops.h — the element-wise loop templates the op files share.
 * MG_UNARY_LOOP(name, T, R, expr) defines a loop computing o[i] = expr with
 * x = a[i] (x of type T, o of type R); MG_BINARY_LOOP(name, T, R, expr) the
 * same with x = a[i], y = b[i].  Contiguous and scalar-broadcast runs are
 * separate cases so the compiler can vectorise them. */
#ifndef MOONGRAD_LOOPS_H
#define MOONGRAD_LOOPS_H

#include <stdint.h>

#define MG_UNARY_LOOP(name, T, R, expr)                                        \
    static void name(const void *a_, int64_t sa, void *o_, int64_t n) {        \
        const T *a = a_;                                                       \
        R *o = o_;                                                             \
        if (sa == 1)                                                           \
            for (int64_t i = 0; i < n; i++) { T x = a[i]; o[i] = (expr); }     \
        else                                                                   \
            for (int64_t i = 0; i < n; i++) { T x = a[i * sa]; o[i] = (expr); } \
    }

#define MG_BINARY_LOOP(name, T, R, expr)                                              \
    static void name(const void *a_, int64_t sa, const void *b_, int64_t sb, void *o_, \
                     int64_t n) {                                                     \
        const T *a = a_, *b = b_;                                                     \
        R *o = o_;                                                                    \
        if (sa == 1 && sb == 1)                                                       \
            for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[i]; o[i] = (expr); }  \
        else if (sa == 1 && sb == 0)                                                  \
            for (int64_t i = 0; i < n; i++) { T x = a[i], y = b[0]; o[i] = (expr); }  \
        else if (sa == 0 && sb == 1)                                                  \
            for (int64_t i = 0; i < n; i++) { T x = a[0], y = b[i]; o[i] = (expr); }  \
        else                                                                          \
            for (int64_t i = 0; i < n; i++) {                                         \
                T x = a[i * sa], y = b[i * sb];                                       \
                o[i] = (expr);                                                        \
            }                                                                         \
    }

#endif
