/* b_io.c — the table core.io, used by lua/moongrad/data.lua: the IDX reader,
 * safetensors saving and loading, and a random permutation for the data
 * loader.  Error messages are re-labelled with the Lua names (mg.load,
 * mg.save, mg.data.read_idx). */
#include <stdlib.h>
#include <string.h>

#include "binding.h"

/* Raises the library's message, its "cname: " prefix replaced by "luaname: ". */
static int io_error(lua_State *L, const char *cname, const char *luaname) {
    const char *msg = mg_errmsg();
    size_t n = strlen(cname);
    if (strncmp(msg, cname, n) == 0 && msg[n] == ':') msg += n + 1;
    while (*msg == ' ') msg++;
    return luaL_error(L, "%s: %s", luaname, msg);
}

/* A string argument without embedded zeros. */
static const char *check_cstring(lua_State *L, int idx, const char *fn, const char *what) {
    if (lua_type(L, idx) != LUA_TSTRING)
        return (luaL_error(L, "%s: %s must be a string, got %s", fn, what, luaL_typename(L, idx)),
                NULL);
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) != len) return (luaL_error(L, "%s: %s contains a zero byte", fn, what), NULL);
    return s;
}

/* read_idx(path [, dtype [, divisor]]): the file's tensor; divisor divides
 * a float result in place (images / 255). */
static int l_read_idx(lua_State *L) {
    const char *fn = "mg.data.read_idx";
    const char *path = check_cstring(L, 1, fn, "the path");
    mg_dtype want = lua_isnoneornil(L, 2) ? MG_NDTYPES : lmg_dtype_arg(L, 2, fn);
    double div = luaL_optnumber(L, 3, 1.0);
    mg_tensor *t = mg_read_idx(path, want);
    if (!t) return io_error(L, "read_idx", fn);
    int64_t n = mg_numel(t);
    if (div != 1.0 && t->dtype == MG_FLOAT32) {
        float *p = mg_data_ptr(t), d = (float)div;
        for (int64_t i = 0; i < n; i++) p[i] /= d;
    } else if (div != 1.0 && t->dtype == MG_FLOAT64) {
        double *p = mg_data_ptr(t);
        for (int64_t i = 0; i < n; i++) p[i] /= div;
    }
    lmg_push(L, t, fn);
    return 1;
}

/* A uniform integer in [0, range), range >= 1, from moongrad's generator. */
static uint64_t below(uint64_t range) {
    uint64_t threshold = (0 - range) % range;
    for (;;) {
        uint64_t r = mg_random_u64();
        if (r >= threshold) return r % range;
    }
}

/* randperm(n): a random permutation of 1..n (int64), Fisher-Yates. */
static int l_randperm(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 0) return luaL_error(L, "randperm: n must be >= 0, got %d", (int)n);
    int64_t shape = n;
    mg_tensor *t = mg_empty(1, &shape, MG_INT64);
    if (!t) return lmg_error(L, "randperm");
    int64_t *p = mg_data_ptr(t);
    for (int64_t i = 0; i < n; i++) p[i] = i + 1;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)below((uint64_t)i + 1), x = p[i];
        p[i] = p[j];
        p[j] = x;
    }
    lmg_push(L, t, "randperm");
    return 1;
}

/* save(path, names, tensors [, meta_keys, meta_values]): lists of equal length. */
static int l_save(lua_State *L) {
    const char *fn = "mg.save";
    const char *path = check_cstring(L, 1, fn, "the path");
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 2), nm = 0;
    if (luaL_len(L, 3) != n) return luaL_error(L, "%s: names and tensors differ in length", fn);
    if (!lua_isnoneornil(L, 4)) {
        luaL_checktype(L, 4, LUA_TTABLE);
        luaL_checktype(L, 5, LUA_TTABLE);
        nm = luaL_len(L, 4);
        if (luaL_len(L, 5) != nm) return luaL_error(L, "%s: metadata lists differ in length", fn);
    }
    /* Arrays as userdata, so an error below frees them; the strings and
     * tensors stay referenced by the argument tables. */
    const char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
    mg_tensor **ts = lua_newuserdatauv(L, sizeof(mg_tensor *) * (size_t)(n + 1), 0);
    const char **keys = lua_newuserdatauv(L, sizeof(char *) * (size_t)(2 * nm + 1), 0);
    int top = lua_gettop(L);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_geti(L, 2, i);
        names[i - 1] = check_cstring(L, -1, fn, "a tensor name");
        lua_geti(L, 3, i);
        ts[i - 1] = lmg_check(L, -1, fn);
        lua_settop(L, top);
    }
    for (lua_Integer i = 1; i <= nm; i++) {
        lua_geti(L, 4, i);
        keys[i - 1] = check_cstring(L, -1, fn, "a metadata key");
        lua_geti(L, 5, i);
        keys[nm + i - 1] = check_cstring(L, -1, fn, "a metadata value");
        lua_settop(L, top);
    }
    if (mg_save_safetensors(path, n, names, ts, nm, keys, keys + nm) != 0)
        return io_error(L, "save", fn);
    return 0;
}

/* load(path): a table name -> tensor, a table of metadata, the names in the
 * file's order. */
static int l_load(lua_State *L) {
    const char *fn = "mg.load";
    const char *path = check_cstring(L, 1, fn, "the path");
    mg_named_tensors *set = mg_load_safetensors(path);
    if (!set) return io_error(L, "load", fn);
    lua_createtable(L, 0, (int)(set->n < 1 << 20 ? set->n : 0));
    lua_createtable(L, 0, 0);
    lua_createtable(L, (int)(set->n < 1 << 20 ? set->n : 0), 0);
    for (int64_t i = 0; i < set->n; i++) {
        lmg_push(L, set->tensors[i], fn);
        set->tensors[i] = NULL;
        lua_setfield(L, -4, set->names[i]);
        lua_pushstring(L, set->names[i]);
        lua_seti(L, -2, i + 1);
    }
    for (int64_t i = 0; i < set->nmeta; i++) {
        lua_pushstring(L, set->meta_values[i]);
        lua_setfield(L, -3, set->meta_keys[i]);
    }
    mg_named_tensors_free(set);
    return 3;
}

const luaL_Reg lmg_io_funcs[] = {
    {"read_idx", l_read_idx},
    {"randperm", l_randperm},
    {"save", l_save},
    {"load", l_load},
    {NULL, NULL},
};
