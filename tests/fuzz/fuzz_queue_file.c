/* SPDX-License-Identifier: MIT */
/*
 * fuzz_queue_file - the queue file reader (queue_file_open_mem, body
 * streaming, update log replay) on arbitrary bytes.
 *
 * Each input runs twice: as given, and with every checksum recomputed
 * (header, body, envelope and update records, at the offsets of
 * docs/queue-format.md) so that mutations reach the record parsers behind
 * the CRC checks instead of stopping at them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_int.h"

/* hex - n lowercase hex digits at p, or -1 */
static int hex(const uint8_t *p, int n, uint64_t *out)
{
        return qf_hex_field((const char *)p, n, out);
}

/* put_crc - write 8 hex digits of a CRC at p */
static void put_crc(uint8_t *p, uint32_t crc)
{
        char tmp[9];

        snprintf(tmp, sizeof(tmp), "%08x", (unsigned)crc);
        memcpy(p, tmp, 8);
}

/* fix_crcs - make every checksum in the image correct where the layout
 * can be read */
static void fix_crcs(uint8_t *p, size_t size)
{
        uint64_t bl, el, len;

        if (size < QF_HDR_LEN || hex(p + 16, 16, &bl) < 0 ||
            hex(p + 33, 8, &el) < 0)
                return;
        if (bl <= size - QF_HDR_LEN && el <= size - QF_HDR_LEN - bl) {
                put_crc(p + 42, queue_crc32(0, p + QF_HDR_LEN, (size_t)bl));
                put_crc(p + 51,
                        queue_crc32(0, p + QF_HDR_LEN + bl, (size_t)el));
                size_t off = QF_HDR_LEN + (size_t)bl + (size_t)el;
                while (size - off >= QF_UPD_LEN &&
                       memcmp(p + off, "UPD ", 4) == 0 &&
                       hex(p + off + 4, 8, &len) == 0 &&
                       len <= size - off - QF_UPD_LEN) {
                        put_crc(
                            p + off + 13,
                            queue_crc32(0, p + off + QF_UPD_LEN, (size_t)len));
                        off += QF_UPD_LEN + (size_t)len;
                }
        }
        put_crc(p + QF_HDR_CRC_OFF, queue_crc32(0, p, QF_HDR_CRC_OFF));
}

/* exercise - open, look at everything, stream the body */
static void exercise(const uint8_t *data, size_t size)
{
        struct queue_file *f;
        const char *err;
        char buf[1000];
        size_t got, sum = 0;

        if (queue_file_open_mem(data, size, &f, &err) < 0)
                return;
        const struct queue_env *env = queue_file_env(f);
        sum += strlen(env->id) + strlen(env->sender);
        if (env->tls.protocol != NULL)
                sum += strlen(env->tls.protocol);
        for (size_t i = 0; i < env->nrcpt; i++) {
                sum += strlen(env->rcpt[i].addr);
                if (env->rcpt[i].reason != NULL)
                        sum += strlen(env->rcpt[i].reason);
                sum += strlen(queue_rcpt_state_name(env->rcpt[i].state));
        }
        while (queue_file_read_body(f, buf, sizeof(buf), &got, &err) == 0 &&
               got > 0)
                sum += got;
        (void)queue_file_verify(f, &err);
        (void)queue_file_torn(f);
        queue_file_close(f);
        if (sum == 0)
                abort(); /* an ID and a recipient are never empty */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        exercise(data, size);
        if (size >= QF_HDR_LEN) {
                uint8_t *p = malloc(size);
                if (p == NULL)
                        return 0;
                memcpy(p, data, size);
                fix_crcs(p, size);
                exercise(p, size);
                free(p);
        }
        return 0;
}
