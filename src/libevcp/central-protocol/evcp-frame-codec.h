/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The framing of the Central socket protocol: <STX> DATA <ETX> <LRC>.
 *
 * Pure code: no sockets, no main loop, no clock, so that it can be fuzzed.
 * Every decision the contract leaves open is written down in
 * docs/protocol.md, section "Framing".
 */

#define EVCP_FRAME_STX  0x02
#define EVCP_FRAME_ETX  0x03
#define EVCP_FRAME_EOT  0x04
#define EVCP_FRAME_ACK  0x06
#define EVCP_FRAME_NACK 0x15

/* Separator of the fields of DATA; the first field is the verb. */
#define EVCP_FRAME_FIELD_SEPARATOR '#'

/* Largest DATA in bytes, and largest encoded frame (STX, ETX and LRC added). */
#define EVCP_FRAME_MAX_DATA    4096
#define EVCP_FRAME_MAX_ENCODED (EVCP_FRAME_MAX_DATA + 3)

/* Whether @byte may never appear in DATA: STX, ETX, EOT, ACK, NACK. */
gboolean  evcp_frame_is_forbidden_byte (guint8         byte);

/* The XOR of every byte of @data (0 for no byte). */
guint8    evcp_frame_compute_lrc       (const guint8  *data,
                                        gsize          len);

gboolean  evcp_frame_validate_data     (const gchar   *data,
                                        gssize         len,
                                        GError       **error);

GBytes   *evcp_frame_encode            (const gchar   *data,
                                        gssize         len,
                                        GError       **error) G_GNUC_WARN_UNUSED_RESULT;

gchar    *evcp_frame_join_fields       (const gchar * const  *fields,
                                        GError              **error) G_GNUC_WARN_UNUSED_RESULT;
GBytes   *evcp_frame_encode_fields     (const gchar * const  *fields,
                                        GError              **error) G_GNUC_WARN_UNUSED_RESULT;
gchar   **evcp_frame_split_fields      (const gchar   *data) G_GNUC_WARN_UNUSED_RESULT;

/**
 * EvcpFrameEventType:
 * @EVCP_FRAME_EVENT_FRAME: a whole frame with a valid DATA and LRC; answer ACK
 * @EVCP_FRAME_EVENT_ACK: an ACK byte outside a frame
 * @EVCP_FRAME_EVENT_NACK: a NACK byte outside a frame
 * @EVCP_FRAME_EVENT_EOT: an EOT byte outside a frame
 * @EVCP_FRAME_EVENT_BAD: a frame or bytes were dropped; answer exactly one NACK
 */
typedef enum {
  EVCP_FRAME_EVENT_FRAME,
  EVCP_FRAME_EVENT_ACK,
  EVCP_FRAME_EVENT_NACK,
  EVCP_FRAME_EVENT_EOT,
  EVCP_FRAME_EVENT_BAD,
} EvcpFrameEventType;

/**
 * EvcpFrameBadReason:
 * @EVCP_FRAME_BAD_NONE: not a %EVCP_FRAME_EVENT_BAD event
 * @EVCP_FRAME_BAD_LRC: the LRC byte is not the XOR of DATA
 * @EVCP_FRAME_BAD_TOO_LONG: DATA exceeds %EVCP_FRAME_MAX_DATA bytes
 * @EVCP_FRAME_BAD_FORBIDDEN_BYTE: STX, EOT, ACK or NACK inside DATA
 * @EVCP_FRAME_BAD_EMPTY: STX immediately followed by ETX
 * @EVCP_FRAME_BAD_OUTSIDE_FRAME: a run of bytes outside any frame
 * @EVCP_FRAME_BAD_NOT_UTF8: DATA is not valid UTF-8 (or contains a NUL byte)
 */
typedef enum {
  EVCP_FRAME_BAD_NONE,
  EVCP_FRAME_BAD_LRC,
  EVCP_FRAME_BAD_TOO_LONG,
  EVCP_FRAME_BAD_FORBIDDEN_BYTE,
  EVCP_FRAME_BAD_EMPTY,
  EVCP_FRAME_BAD_OUTSIDE_FRAME,
  EVCP_FRAME_BAD_NOT_UTF8,
} EvcpFrameBadReason;

const gchar *evcp_frame_bad_reason_to_string (EvcpFrameBadReason reason);

/**
 * EvcpFrameEvent:
 * @type: what was received
 * @reason: why, for %EVCP_FRAME_EVENT_BAD; %EVCP_FRAME_BAD_NONE otherwise
 * @data: for %EVCP_FRAME_EVENT_FRAME, DATA as a NUL-terminated UTF-8 string
 *   with no NUL inside; %NULL otherwise. Owned by the decoder and valid until
 *   the next call on it (copy it to keep it).
 * @len: the length of @data in bytes (1 to %EVCP_FRAME_MAX_DATA), 0 otherwise
 */
typedef struct {
  EvcpFrameEventType  type;
  EvcpFrameBadReason  reason;
  const gchar        *data;
  gsize               len;
} EvcpFrameEvent;

/* An incremental decoder; its memory is fixed (one DATA buffer). */
typedef struct _EvcpFrameDecoder EvcpFrameDecoder;

EvcpFrameDecoder *evcp_frame_decoder_new      (void);
void              evcp_frame_decoder_free     (EvcpFrameDecoder  *self);
void              evcp_frame_decoder_reset    (EvcpFrameDecoder  *self);
gboolean          evcp_frame_decoder_in_frame (EvcpFrameDecoder  *self);
gboolean          evcp_frame_decoder_next     (EvcpFrameDecoder  *self,
                                               const guint8     **buf,
                                               gsize             *len,
                                               EvcpFrameEvent    *event) G_GNUC_WARN_UNUSED_RESULT;

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EvcpFrameDecoder, evcp_frame_decoder_free)

G_END_DECLS
