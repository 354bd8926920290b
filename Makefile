# Makefile — builds lua/moongrad/core.so (the C core in src/ plus the Lua
# binding), runs the busted specs under Lua 5.4, the sanitizer build, the
# demo, and installs the Debian packages it needs when they are missing.
LUA      ?= lua5.4
CC       ?= gcc
LUA_INC  ?= /usr/include/lua5.4
BLAS_INC ?= /usr/include/x86_64-linux-gnu
CFLAGS   ?= -O3 -march=x86-64-v2
WARN      = -std=c11 -Wall -Wextra -Werror
CPPFLAGS  = -Isrc -I$(LUA_INC) -I$(BLAS_INC)
LDLIBS    = -lopenblas -lm

CORE_SRC  = $(wildcard src/*.c)
BIND_SRC  = $(wildcard lua/moongrad/*.c)
HEADERS   = $(wildcard src/*.h) $(wildcard lua/moongrad/*.h)
CORE_SO   = lua/moongrad/core.so
SAN_DIR   = build/sanitize
SAN_SO    = $(SAN_DIR)/moongrad/core.so
PREFIX   ?= /usr/local
LUA_LIBDIR   = $(PREFIX)/lib/lua/5.4
LUA_SHAREDIR = $(PREFIX)/share/lua/5.4

export LUA_PATH  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$(CURDIR)/spec/?.lua;;
export LUA_CPATH := $(CURDIR)/lua/?.so;;

DEBS = lua5.4 liblua5.4-dev libopenblas-dev lua-busted luarocks

.PHONY: all deps test sanitize demo install uninstall clean

all: $(CORE_SO)

$(CORE_SO): $(CORE_SRC) $(BIND_SRC) $(HEADERS)
	$(CC) $(WARN) $(CFLAGS) -fPIC -shared $(CPPFLAGS) -o $@ $(CORE_SRC) $(BIND_SRC) $(LDLIBS)

# Installs the Debian packages that are missing (a no-op when all are there).
deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

test: deps
	$(MAKE) all
	$(LUA) /usr/bin/busted

# The same specs against an ASan+UBSan build of core.so (LD_PRELOAD brings the
# sanitizer runtime into the lua5.4 process).
sanitize: deps
	@mkdir -p $(SAN_DIR)/moongrad
	$(CC) $(WARN) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
	  -fPIC -shared $(CPPFLAGS) -o $(SAN_SO) $(CORE_SRC) $(BIND_SRC) $(LDLIBS)
	LUA_CPATH="$(CURDIR)/$(SAN_DIR)/?.so;;" \
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(LUA) /usr/bin/busted

demo: deps
	$(MAKE) all
	$(LUA) examples/tour.lua

install: all
	install -d $(DESTDIR)$(LUA_LIBDIR)/moongrad $(DESTDIR)$(LUA_SHAREDIR)/moongrad
	install -m 644 $(CORE_SO) $(DESTDIR)$(LUA_LIBDIR)/moongrad/core.so
	install -m 644 lua/moongrad/*.lua $(DESTDIR)$(LUA_SHAREDIR)/moongrad/

uninstall:
	rm -rf $(DESTDIR)$(LUA_LIBDIR)/moongrad $(DESTDIR)$(LUA_SHAREDIR)/moongrad

clean:
	rm -rf $(CORE_SO) build
