/* bcryptprimitives.dll for Wine versions that lack it (Debian 12's Wine 8.0).
 *
 * Rust's std (1.78 and later) imports ProcessPrng from bcryptprimitives.dll
 * to seed HashMap keys and fill random buffers; Wine 8.0 has no such DLL,
 * so every Rust program fails to start under it (exit 53, "import_dll
 * Library bcryptprimitives.dll ... not found"). This DLL provides the one
 * function, forwarding to advapi32's RtlGenRandom (SystemFunction036),
 * which Wine implements. Built by scripts/setup.sh into target/wine-shim and
 * found through WINEPATH (scripts/wine-run.sh). Never shipped: test-only. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG length: feed it in chunks. */
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
