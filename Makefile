# Makefile — builds lua/moongrad/core.so (the C core in src/ plus the Lua
# binding in binding/), runs the busted specs under Lua 5.4, the sanitizer build, valgrind,
# the demo, checks the rockspec and a luarocks install, and installs the
# Debian packages it needs when they are missing.
LUA      ?= lua5.4
CC       ?= gcc
LUA_INC  ?= /usr/include/lua5.4
BLAS_INC ?= /usr/include/x86_64-linux-gnu
CFLAGS   ?= -O3 -march=x86-64-v2 -fno-math-errno -fno-trapping-math
WARN      = -std=c11 -Wall -Wextra -Werror
CPPFLAGS  = -Isrc -Ibinding -I$(LUA_INC) -I$(BLAS_INC)
LDLIBS    = -lopenblas -lz -ljansson -lm

CORE_SRC  = $(wildcard src/*.c)
BIND_SRC  = $(wildcard binding/*.c)
HEADERS   = $(wildcard src/*.h) $(wildcard binding/*.h)
CORE_SO   = lua/moongrad/core.so
SAN_DIR   = build/sanitize
SAN_SO    = $(SAN_DIR)/moongrad/core.so
PREFIX   ?= /usr/local
LUA_LIBDIR   = $(PREFIX)/lib/lua/5.4
LUA_SHAREDIR = $(PREFIX)/share/lua/5.4
ROCKSPEC  = moongrad-scm-1.rockspec
LUA_MODS  = $(filter-out lua/moongrad/init.lua,$(wildcard lua/moongrad/*.lua))

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;;
export LUA_CPATH := $(CURDIR)/lua/?.so;;

DEBS = lua5.4 liblua5.4-dev libopenblas-dev lua-busted luarocks zlib1g-dev libjansson-dev

.PHONY: all c-example deps test soak sanitize valgrind rockspec-check install-check demo install uninstall clean \
        bench bench-deps fuzz fuzz-long fuzz-parsers

OBJ_DIR   = build/obj
CORE_OBJ  = $(patsubst %.c,$(OBJ_DIR)/%.o,$(CORE_SRC))
BIND_OBJ  = $(patsubst %.c,$(OBJ_DIR)/%.o,$(BIND_SRC))

all: $(CORE_SO)

# One object per source file, so a change rebuilds only what it touches.
$(OBJ_DIR)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(CFLAGS) -fPIC $(CPPFLAGS) -c -o $@ $<

$(CORE_SO): $(CORE_OBJ) $(BIND_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

# Installs the Debian packages that are missing (a no-op when all are there).
# `make deps DEBS_EXTRA="..."` adds more (the demo adds its data set and gnuplot).
deps:
	@missing=""; for p in $(DEBS) $(DEBS_EXTRA); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing </dev/null; \
	fi

# examples/c_api.c: the library used from C alone, no Lua involved.
c-example: build/c_api
	./build/c_api

build/c_api: examples/c_api.c $(CORE_OBJ)
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) -o $@ examples/c_api.c $(CORE_OBJ) $(LDLIBS)

test: deps rockspec-check
	$(MAKE) -j2 all c-example
	$(LUA) /usr/bin/busted

# The same specs against an ASan+UBSan build of core.so (LD_PRELOAD brings the
# sanitizer runtime into the lua5.4 process). --cpath overrides the lua/?.so
# in .busted, which would otherwise load the plain build; -z nodelete keeps
# core.so mapped after lua_close's dlclose so LeakSanitizer can symbolize it.
# Leak checking is on; .ci/lsan.supp lists the known leaks outside moongrad.
sanitize: deps
	@mkdir -p $(SAN_DIR)/moongrad
	$(CC) $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -fPIC -shared -Wl,-z,nodelete $(CPPFLAGS) -o $(SAN_SO) $(CORE_SRC) $(BIND_SRC) $(LDLIBS)
	LUA_CPATH="$(CURDIR)/$(SAN_DIR)/?.so;;" \
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(LUA) /usr/bin/busted --cpath='$(CURDIR)/$(SAN_DIR)/?.so'

# The fuzzer (spec/fuzz/) against the same ASan+UBSan build: random programs over the
# whole API for 2 minutes (fuzz, seed 1: for CI) or FUZZ_MINUTES (fuzz-long, a new seed
# each run); FUZZ_SEED=n picks the seed. Failures are minimised into build/fuzz/.
FUZZ_MINUTES ?= 10
fuzz fuzz-long: deps
	@mkdir -p $(SAN_DIR)/moongrad
	$(CC) $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -fPIC -shared -Wl,-z,nodelete $(CPPFLAGS) -o $(SAN_SO) $(CORE_SRC) $(BIND_SRC) $(LDLIBS)
	$(LUA) spec/fuzz/run.lua --cc "$(CC)" --minutes $(if $(filter fuzz,$@),2,$(FUZZ_MINUTES)) \
	  $(if $(FUZZ_SEED),--seed $(FUZZ_SEED),$(if $(filter fuzz,$@),--seed 1))

# The specs under valgrind's memcheck (valgrind is not in DEBS: install it
# yourself); fails on definitely-lost blocks and memory errors.
# --keep-debuginfo keeps core.so's symbols after lua_close dlcloses it.
# SPECS=spec/foo_spec.lua runs a subset.
SPECS ?=
valgrind: deps all
	valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
	  --keep-debuginfo=yes $(LUA) /usr/bin/busted $(SPECS)

# luarocks' builtin backend has no globs: every C source (and Lua module) of
# the tree must be named in the rockspec, and every file it names must exist.
rockspec-check:
	@ok=1; \
	for f in $(CORE_SRC) $(BIND_SRC) $(LUA_MODS); do \
	  grep -qF '"'"$$f"'"' $(ROCKSPEC) || { echo "$(ROCKSPEC): $$f is missing"; ok=0; }; \
	done; \
	for f in $$(grep -oE '"[^"]+\.(c|lua)"' $(ROCKSPEC) | tr -d '"'); do \
	  [ -f "$$f" ] || { echo "$(ROCKSPEC): $$f does not exist"; ok=0; }; \
	done; \
	[ $$ok = 1 ] && echo "$(ROCKSPEC): lists all sources"

# `luarocks make` of a clean copy of the sources into a throwaway tree (no
# network needed), then require("moongrad") from that tree, outside the repo.
install-check: deps rockspec-check
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	mkdir -p $$tmp/src/src $$tmp/src/binding $$tmp/src/lua/moongrad; \
	cp $(ROCKSPEC) $$tmp/src/; cp src/*.c src/*.h $$tmp/src/src/; \
	cp binding/*.c binding/*.h $$tmp/src/binding/; cp lua/moongrad/*.lua $$tmp/src/lua/moongrad/; \
	cd $$tmp/src; \
	env -u LUA_PATH -u LUA_CPATH luarocks --lua-version=5.4 make --tree $$tmp/tree $(ROCKSPEC); \
	cd /; eval "$$(env -u LUA_PATH -u LUA_CPATH luarocks --lua-version=5.4 --tree $$tmp/tree path)"; \
	MG_TREE=$$tmp/tree $(LUA) -e " \
	  local mg = require('moongrad'); local t = mg.tensor{1, 2} + 1; print(t); \
	  assert(tostring(t):find('2') and tostring(t):find('3'), 'bad result'); \
	  local tree = os.getenv('MG_TREE'); \
	  for _, m in ipairs{{'moongrad', package.path}, {'moongrad.core', package.cpath}} do \
	    local p = assert(package.searchpath(m[1], m[2])); \
	    assert(p:sub(1, #tree) == tree, m[1] .. ' loaded from ' .. p); print(m[1], p); \
	  end"; \
	echo "install-check: ok"

# libFuzzer harnesses of the parsers (fuzz/run.sh; needs clang, installed here):
# FUZZ_SECONDS per target, FUZZ_TARGETS from safetensors idx einsum slice (default all).
FUZZ_SECONDS ?= 60
fuzz-parsers:
	$(MAKE) deps DEBS_EXTRA="clang"
	fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

DEMO_DEBS = dataset-fashion-mnist gnuplot-nox
SOAK_MINUTES ?= 30

# The MLP trained for SOAK_MINUTES (or SOAK_EPOCHS=n epochs), the RSS after
# every epoch in build/soak/rss.csv (it should stay flat) and summed up by
# bench/soak_summary.lua.
soak:
	$(MAKE) deps DEBS_EXTRA="$(DEMO_DEBS)"
	$(MAKE) all
	@mkdir -p build/soak
	MOONGRAD_PROGRESS=off $(LUA) examples/fashion_mnist.lua --model mlp --batch-size 128 \
	  $(if $(SOAK_EPOCHS),--epochs $(SOAK_EPOCHS),--minutes $(SOAK_MINUTES)) \
	  --rss-log build/soak/rss.csv --save build/soak/mlp.safetensors --plot build/soak/mlp.png
	$(LUA) bench/soak_summary.lua build/soak/rss.csv

demo:
	$(MAKE) deps DEBS_EXTRA="$(DEMO_DEBS)"
	$(MAKE) all
	@mkdir -p build/demo
	$(LUA) examples/fashion_mnist.lua --model cnn --epochs 3 --batch-size 64 --lr 2e-3 \
	  --save build/demo/fashion_cnn.safetensors --plot build/demo/fashion_cnn.png

install: all
	install -d $(DESTDIR)$(LUA_LIBDIR)/moongrad $(DESTDIR)$(LUA_SHAREDIR)/moongrad
	install -m 644 $(CORE_SO) $(DESTDIR)$(LUA_LIBDIR)/moongrad/core.so
	install -m 644 lua/moongrad/*.lua $(DESTDIR)$(LUA_SHAREDIR)/moongrad/

uninstall:
	rm -rf $(DESTDIR)$(LUA_LIBDIR)/moongrad $(DESTDIR)$(LUA_SHAREDIR)/moongrad

# bench/: moongrad beside PyTorch (bench/run.lua; settings BENCH_* there),
# the table also written to bench/RESULTS.md.  PyTorch comes from Debian's
# python3-torch (make bench-deps); without it the PyTorch column is skipped.
bench: all build/cbench
	$(LUA) bench/run.lua

build/cbench: bench/cbench.c
	@mkdir -p build
	$(CC) -std=c11 -O2 -march=x86-64-v2 -fopenmp -Wall -Wextra -Werror -D_POSIX_C_SOURCE=199309L \
	  -I$(BLAS_INC) -o $@ bench/cbench.c -lopenblas

bench-deps:
	$(MAKE) deps DEBS_EXTRA="python3-torch dataset-fashion-mnist"

# (moongrad/ and the .o files are what `luarocks make` leaves in the checkout)
clean:
	rm -rf $(CORE_SO) build moongrad src/*.o binding/*.o
