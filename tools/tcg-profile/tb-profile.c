/*
 * QEMU TCG plugin: guest kernel instructions per translation block, inside
 * measurement windows the guest opens and closes itself.
 *
 *   qemu-system-x86_64 ... -plugin libtb-profile.so,marker=0xADDR,out=FILE
 *
 * marker: a kernel address (from System.map; boot with nokaslr) whose
 *         execution toggles the window, e.g. __x64_sys_sync: the guest runs
 *         `sync` before and after what it measures.
 * out:    file that gets, per closed window,
 *           window N kernel K user U lost L
 *           <TB start, hex> <instructions executed in the window> <TB size>
 *           ...
 *           end N
 *
 * Every kernel TB (address in the upper half) gets an inline add of its
 * instruction count to a counter keyed by its start address: no callback
 * per executed block, so the guest runs at nearly normal TCG speed. The
 * counters always run; a window is the difference between the counters
 * at its close and at its open. A TB ends at every call, jump and return,
 * so its start address folds to the function that holds all of it.
 * Counters are per address, not per vCPU: run with -icount (one vCPU
 * thread at a time) or one vCPU for exact counts.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin-api.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define KERNEL_MIN 0xffff800000000000ULL
/* Open addressing, never resized: counter addresses are baked into
 * translated code. A tinyconfig kernel plus modules has far fewer TBs. */
#define SLOT_BITS 18
#define SLOTS (1u << SLOT_BITS)

struct slot {
    uint64_t pc;
    uint64_t count;     /* instructions executed since boot */
    uint64_t at_open;   /* count when the current window opened */
    uint64_t insns;     /* size of the block's latest translation */
};

static struct slot *slots;
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t user_count, user_at_open;
/* Kernel TBs that found no free slot: their instructions are counted here. */
static uint64_t lost_count, lost_at_open;
static uint64_t marker;
static FILE *out;
static int window_open;
static unsigned int windows;

static struct slot *slot_for(uint64_t pc)
{
    uint32_t i = (uint32_t)((pc * 0x9e3779b97f4a7c15ULL) >> (64 - SLOT_BITS));

    for (uint32_t n = 0; n < SLOTS; n++, i = (i + 1) & (SLOTS - 1)) {
        if (slots[i].pc == pc)
            return &slots[i];
        if (slots[i].pc == 0) {
            slots[i].pc = pc;
            return &slots[i];
        }
    }
    return NULL;
}

static void window_open_now(void)
{
    for (uint32_t i = 0; i < SLOTS; i++)
        slots[i].at_open = slots[i].count;
    user_at_open = user_count;
    lost_at_open = lost_count;
    window_open = 1;
}

static void window_close_now(void)
{
    uint64_t kernel = 0;

    windows++;
    for (uint32_t i = 0; i < SLOTS; i++)
        kernel += slots[i].count - slots[i].at_open;
    fprintf(out, "window %u kernel %" PRIu64 " user %" PRIu64 " lost %" PRIu64 "\n", windows,
            kernel, user_count - user_at_open, lost_count - lost_at_open);
    for (uint32_t i = 0; i < SLOTS; i++) {
        uint64_t d = slots[i].count - slots[i].at_open;
        if (slots[i].pc && d)
            fprintf(out, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n", slots[i].pc, d,
                    slots[i].insns);
    }
    fprintf(out, "end %u\n", windows);
    fflush(out);
    window_open = 0;
}

/* Runs when the guest executes the marker instruction. */
static void marker_hit(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    (void)userdata;
    pthread_mutex_lock(&slots_lock);
    if (window_open)
        window_close_now();
    else
        window_open_now();
    pthread_mutex_unlock(&slots_lock);
}

static void tb_translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uint64_t pc = qemu_plugin_tb_vaddr(tb);
    size_t n = qemu_plugin_tb_n_insns(tb);
    struct slot *s;

    (void)id;
    if (pc < KERNEL_MIN) {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &user_count, n);
        return;
    }
    if (marker >= pc && marker - pc < 4096) {
        for (size_t i = 0; i < n; i++) {
            struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
            if (qemu_plugin_insn_vaddr(insn) == marker)
                qemu_plugin_register_vcpu_insn_exec_cb(insn, marker_hit, QEMU_PLUGIN_CB_NO_REGS,
                                                       NULL);
        }
    }
    pthread_mutex_lock(&slots_lock);
    s = slot_for(pc);
    if (s)
        s->insns = n;
    pthread_mutex_unlock(&slots_lock);
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                             s ? &s->count : &lost_count, n);
}

static void at_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    pthread_mutex_lock(&slots_lock);
    if (window_open)
        fprintf(out, "unclosed window at exit (ignored)\n");
    fclose(out);
    out = NULL;
    pthread_mutex_unlock(&slots_lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
                                           char **argv)
{
    const char *path = NULL;

    if (!info->system_emulation || strcmp(info->target_name, "x86_64") != 0) {
        fprintf(stderr, "tb-profile: needs qemu-system-x86_64\n");
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        /* "arg=" is the older spelling of a plugin argument. */
        const char *a = strncmp(argv[i], "arg=", 4) == 0 ? argv[i] + 4 : argv[i];
        if (strncmp(a, "marker=", 7) == 0) {
            char *end;
            errno = 0;
            marker = strtoull(a + 7, &end, 0);
            if (errno || *end || marker < KERNEL_MIN) {
                fprintf(stderr, "tb-profile: marker must be a kernel address, got '%s'\n", a + 7);
                return -1;
            }
        } else if (strncmp(a, "out=", 4) == 0) {
            path = a + 4;
        } else {
            fprintf(stderr, "tb-profile: unknown argument '%s' (marker=ADDR, out=FILE)\n", a);
            return -1;
        }
    }
    if (!marker || !path) {
        fprintf(stderr, "tb-profile: needs marker=ADDR and out=FILE\n");
        return -1;
    }
    slots = calloc(SLOTS, sizeof(*slots));
    out = fopen(path, "w");
    if (!slots || !out) {
        fprintf(stderr, "tb-profile: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_translated);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    fprintf(stderr, "tb-profile: marker 0x%" PRIx64 ", writing %s\n", marker, path);
    return 0;
}
