/* gc_alloc.c — tensors released when Lua frees their userdata, without a
 * __gc finalizer.
 *
 * A finalizer costs Lua 5.4 a protected call per dead object and keeps the
 * object for a second collection cycle: about 40 ns of the ~250 ns a tiny
 * `y * 0.5` takes.  Instead the module wraps the state's allocator (once per
 * Lua state) and, when Lua frees a block that is a tensor userdata, drops
 * the tensor's reference right there.  A block is taken for one when all of
 * these hold: its size is the userdata block's size, its type byte (right
 * after the `next` pointer, as in every Lua 5.4 object) says userdata, its
 * metatable field holds the tensor metatable, and its contents carry the
 * tag (tensor pointer XOR a per-process random secret).  (The type and
 * metatable tests are what make it exact: other objects of the same size,
 * such as a C closure with one upvalue, can hold stale bytes of a freed
 * tensor where the tag would be; a crash found that.)  The block
 * size and the offsets of the userdata and of its metatable field are
 * measured at load time by watching the allocator make one; if anything is
 * not as expected (or the module cannot pin itself in memory, see below),
 * the state keeps the __gc finalizer instead.
 *
 * Releasing may free graph nodes; the only node state that needs Lua (the
 * registry reference of an mg.autograd.Function node) is queued with
 * lmg_unref_later and dropped at the next safe point (lmg_gc_account, or
 * the end of the collection cycle), since no Lua API may run inside a
 * collection. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "binding.h"

uintptr_t lmg_ud_secret;

/* Freed blocks of the tensor userdata's size are kept (up to BLOCK_POOL per
 * state) and handed out again for the next object of that size: a tiny op
 * makes and frees one such block, and glibc's malloc and free of it were a
 * tenth of the op's time.  (Not under AddressSanitizer, which must see
 * every block freed.) */
#if defined(__SANITIZE_ADDRESS__)
#define BLOCK_POOL 0
#else
#define BLOCK_POOL 4096
#endif

/* One per Lua state using the wrapped allocator.  Kept in a list for the
 * life of the process (a few dozen bytes per state ever opened, plus the
 * pooled blocks: at most 4096 of ~48 bytes). */
typedef struct wrap {
    lua_Alloc f;
    void *ud;
    size_t block_size; /* Lua's block for an lmg_ud userdata */
    size_t offset;     /* where the lmg_ud starts inside it */
    size_t mt_offset;  /* where the block holds its metatable's address */
    const void *mt;    /* the tensor metatable's address */
    int capturing;
    void *captured;
    size_t captured_size;
    int *refs; /* registry references waiting for lmg_unref_later's drain */
    size_t nrefs, caprefs;
    void *pool[BLOCK_POOL + 1];
    int npool;
    struct wrap *next;
} wrap;

static wrap *wraps;
static LMG_HOT_TLS size_t pending_refs; /* over all states of this thread */

static void release_block(const wrap *w, void *block) {
    if (((const unsigned char *)block)[sizeof(void *)] != LUA_TUSERDATA) return;
    const void *mt;
    memcpy(&mt, (char *)block + w->mt_offset, sizeof mt);
    if (mt != w->mt) return;
    lmg_ud *u = (lmg_ud *)((char *)block + w->offset);
    if (u->t && u->tag == ((uintptr_t)u->t ^ lmg_ud_secret)) {
        mg_tensor *t = u->t;
        lmg_ud_set(u, NULL);
        mg_release(t);
    }
}

static void *alloc_hook(void *ud, void *ptr, size_t osize, size_t nsize) {
    wrap *w = ud;
    if (ptr && nsize == 0 && osize == w->block_size) {
        release_block(w, ptr);
        if (w->npool < BLOCK_POOL) {
            w->pool[w->npool++] = ptr;
            return NULL;
        }
    } else if (!ptr && nsize == w->block_size && w->npool > 0 && !w->capturing) {
        return w->pool[--w->npool];
    }
    void *r = w->f(w->ud, ptr, osize, nsize);
    if (w->capturing && !ptr && nsize > 0) {
        w->capturing = 0;
        w->captured = osize == LUA_TUSERDATA ? r : NULL;
        w->captured_size = nsize;
    }
    return r;
}

static void init_secret(void) {
    uintptr_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
        s = (uintptr_t)time(NULL) * 0x9E3779B97F4A7C15u ^ (uintptr_t)&s;
    lmg_ud_secret = s | 1; /* never 0: a zeroed block never carries the tag */
}

/* Keeps this shared object mapped after Lua's dlclose at lua_close, which
 * unloads C modules before it frees the remaining objects through the
 * allocator (the hook must still be there), and keeps the library's
 * process-wide state (the large-block cache of src/tensor.c) reachable:
 * called by luaopen in either release mode. */
bool lmg_pin_module(void) {
    Dl_info info;
    if (!dladdr((void *)&alloc_hook, &info) || !info.dli_fname) return false;
    return dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
}

/* Measures where lua_newuserdatauv puts an lmg_ud inside the block it gets
 * from the allocator, and where the block's header keeps the metatable
 * (mt: its stack index); false when that cannot be seen. */
static bool measure(lua_State *L, int mt, wrap *w) {
    w->capturing = 1;
    lmg_ud *u = lua_newuserdatauv(L, sizeof(lmg_ud), 0);
    w->capturing = 0;
    lmg_ud_set(u, NULL);
    const char *block = w->captured;
    size_t off = (size_t)((const char *)u - block);
    bool ok = block && (const char *)u > block && off <= 128 && off % sizeof(void *) == 0 &&
              w->captured_size == off + sizeof(lmg_ud) &&
              ((const unsigned char *)block)[sizeof(void *)] == LUA_TUSERDATA;
    w->mt = lua_topointer(L, mt);
    lua_pushvalue(L, mt);
    lua_setmetatable(L, -2);
    int found = 0;
    for (size_t k = 0; ok && k < off; k += sizeof(void *)) {
        const void *p;
        memcpy(&p, block + k, sizeof p);
        if (p == w->mt) {
            w->mt_offset = k;
            found++;
        }
    }
    lua_pop(L, 1);
    if (!ok || found != 1) return false;
    w->offset = off;
    w->block_size = w->captured_size;
    return true;
}

/* A table with a finalizer and no references: collected each cycle, its
 * finalizer (where Lua API calls are allowed) drains the queued
 * references and makes the next one. */
static int gc_tick(lua_State *L) {
    lmg_unref_drain(L);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, gc_tick);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    return 0;
}

bool lmg_gc_hook_install(lua_State *L, int mt) {
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    if (f == alloc_hook) return true; /* loaded again into the same state */
    if (!lmg_ud_secret) init_secret();
    if (!lmg_pin_module()) return false;
    wrap *w = calloc(1, sizeof *w);
    if (!w) return false;
    w->f = f;
    w->ud = ud;
    w->block_size = SIZE_MAX; /* matches no block until measured */
    lua_setallocf(L, alloc_hook, w);
    if (!measure(L, lua_absindex(L, mt), w)) {
        lua_setallocf(L, f, ud);
        free(w);
        return false;
    }
    w->next = wraps;
    wraps = w;
    gc_tick(L);
    return true;
}

static wrap *state_wrap(lua_State *L) {
    void *ud;
    return lua_getallocf(L, &ud) == alloc_hook ? ud : NULL;
}

void lmg_unref_later(lua_State *L, int ref) {
    wrap *w = state_wrap(L);
    if (!w) {
        if (lua_checkstack(L, 2)) luaL_unref(L, LUA_REGISTRYINDEX, ref);
        return;
    }
    if (w->nrefs == w->caprefs) {
        size_t n = w->caprefs ? 2 * w->caprefs : 16;
        int *r = realloc(w->refs, n * sizeof *r);
        if (!r) return; /* the registry keeps one entry: nothing worse */
        w->refs = r;
        w->caprefs = n;
    }
    w->refs[w->nrefs++] = ref;
    pending_refs++;
}

void lmg_unref_drain(lua_State *L) {
    if (!pending_refs) return;
    wrap *w = state_wrap(L);
    if (!w || !lua_checkstack(L, 2)) return;
    while (w->nrefs) {
        luaL_unref(L, LUA_REGISTRYINDEX, w->refs[--w->nrefs]);
        pending_refs--;
    }
}
