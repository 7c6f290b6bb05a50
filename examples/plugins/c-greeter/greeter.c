/*
 * A spindle plugin in C: the guest contract (docs/guest-contract.md) by
 * hand, no kit. Built with Debian's clang, lld and wasi-libc (only its
 * malloc and string functions, so the module imports nothing):
 *
 *   clang --target=wasm32-wasi -O2 -nostartfiles -Wl,--no-entry \
 *       -Wl,--export=cabi_realloc -Wl,--export=greet \
 *       -Wl,--export=cabi_post_greet -o greeter.wasm greeter.c
 *
 *   spindle run --input world greeter.wasm greet   # Hello, world!
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The canonical ABI's allocator. The host only asks for fresh blocks with
 * align 1, which malloc's 16-byte alignment covers; it accepts any pointer
 * for a size of 0. NULL for a real size is reported by the host as an
 * allocator failure. */
void *cabi_realloc(void *old_ptr, size_t old_size, size_t align, size_t new_size) {
    (void)old_size;
    if (align > 16)
        __builtin_trap(); /* beyond malloc's promise; never asked by spindle */
    if (new_size == 0) {
        free(old_ptr);
        return (void *)align;
    }
    return realloc(old_ptr, new_size);
}

/* The result area: tag (0 ok, 1 error), payload pointer, payload length. */
static uint32_t result[3];

static uint32_t *finish(uint32_t tag, char *payload, size_t len) {
    result[0] = tag;
    result[1] = (uint32_t)(uintptr_t)payload;
    result[2] = (uint32_t)len;
    return result;
}

static uint32_t *fail(const char *message) {
    size_t len = strlen(message);
    char *copy = malloc(len);
    if (copy == NULL)
        __builtin_trap();
    memcpy(copy, message, len);
    return finish(1, copy, len);
}

/* greet(name) = "Hello, NAME!"; an empty name is an error. The input block
 * is ours (the host allocated it with cabi_realloc): freed here. */
uint32_t *greet(char *name, size_t len) {
    static const char hello[] = "Hello, ";
    if (len == 0)
        return fail("greet needs a name");
    size_t out_len = sizeof hello - 1 + len + 1;
    char *out = malloc(out_len);
    if (out == NULL)
        __builtin_trap();
    memcpy(out, hello, sizeof hello - 1);
    memcpy(out + sizeof hello - 1, name, len);
    out[out_len - 1] = '!';
    free(name);
    return finish(0, out, out_len);
}

/* Called once after every greet that returned, with its result area. */
void cabi_post_greet(uint32_t *area) {
    free((void *)(uintptr_t)area[1]);
    area[1] = 0;
    area[2] = 0;
}
