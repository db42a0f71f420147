/*
 * frame_mqtt.c — MQTT 3.1, 3.1.1 and 5 control packets from the client
 * (OASIS MQTT v3.1.1 §2-3, v5.0 §2-3).
 *
 * The fixed header and the Remaining Length are framing; the variable
 * header and payload are read element by element as the packet type
 * lays them out: one-byte and two-byte integers are framing, a string
 * or binary's two-byte length is framing and its bytes a field, an MQTT
 * 5 property length is framing and the whole property block a field
 * (properties hold user strings; they are scanned as one).  What the
 * layout does not place (a PUBLISH payload, a reason code and what
 * follows it, the body of a packet a client does not send, bytes left
 * after the last element) is a field up to the end of the packet.
 *
 * The protocol level of the CONNECT (3, 4 or 5) says whether properties
 * exist in the packets that follow.
 *
 * State: phase (MQ_*), left (bytes of the packet still to come), need
 * (bytes of the open string or property block), u[0] (the integer or
 * length being read), u[1] (its bytes read), u[2] (the element's index
 * in the packet's layout), u[3] (MQ_U3_* packet facts), flags (the
 * protocol level, 0 before the CONNECT's).
 */
#include "frame.h"
#include "frame_int.h"

/*
 * A packet of more than 16 MiB is not framed: brokers refuse far less by
 * default for clients (message size limits of a few MiB), and trusting a
 * Remaining Length that far ahead would let one corrupt or hostile
 * length make the next 256 MiB of the stream one payload and misplace
 * every packet after it.  Past the limit the stream is one field, as
 * without framing.
 */
#define MQTT_MAX_PACKET		(16u << 20)
#define MQTT_MAX_VARINT		268435455u

enum {
	MQ_FIXED = 0,	/* the fixed header's first byte */
	MQ_RLEN,	/* the Remaining Length */
	MQ_U8,		/* a one-byte integer */
	MQ_U16,		/* a two-byte integer */
	MQ_STRLEN,	/* a string or binary's two-byte length */
	MQ_STR,		/* its bytes */
	MQ_PROPLEN,	/* an MQTT 5 property length */
	MQ_PROPS,	/* the property block */
	MQ_REST,	/* the rest of the packet */
};

enum {
	MQT_CONNECT = 1,
	MQT_PUBLISH = 3,
	MQT_PUBACK = 4,
	MQT_PUBREC = 5,
	MQT_PUBREL = 6,
	MQT_PUBCOMP = 7,
	MQT_SUBSCRIBE = 8,
	MQT_UNSUBSCRIBE = 10,
};

#define MQ_U3_TYPE(u)		((u) & 0xf)
#define MQ_U3_FLAGS(u)		(((u) >> 4) & 0xf)	/* fixed header's */
#define MQ_U3_CFLAGS(u)		(((u) >> 8) & 0xff)	/* CONNECT flags */
#define MQ_U3_CONNECTED		(1u << 16)		/* a CONNECT came */

#define MQC_WILL		0x04
#define MQC_PASSWORD		0x40
#define MQC_USERNAME		0x80

/*
 * The phase of the packet's next element, from its index u[2].  Returns
 * whether the packet may end before it (it is the rest, or the next
 * topic filter of a list).
 */
static bool mq_next(struct frame_state *fs)
{
	unsigned type = MQ_U3_TYPE(fs->u[3]), cf = MQ_U3_CFLAGS(fs->u[3]);
	bool v5 = fs->flags == 5;

	fs->u[0] = 0;
	fs->u[1] = 0;
	for (;;) {
		unsigned step = fs->u[2]++;

		switch (type) {
		case MQT_CONNECT:
			switch (step) {
			case 0:				/* protocol name */
				fs->phase = MQ_STRLEN;
				return false;
			case 1:				/* protocol level */
			case 2:				/* connect flags */
				fs->phase = MQ_U8;
				return false;
			case 3:				/* keep alive */
				fs->phase = MQ_U16;
				return false;
			case 4:
				if (!v5)
					continue;
				fs->phase = MQ_PROPLEN;
				return false;
			case 5:				/* client identifier */
				fs->phase = MQ_STRLEN;
				return false;
			case 6:				/* will properties */
				if (!v5 || !(cf & MQC_WILL))
					continue;
				fs->phase = MQ_PROPLEN;
				return false;
			case 7:				/* will topic */
			case 8:				/* will payload */
				if (!(cf & MQC_WILL))
					continue;
				fs->phase = MQ_STRLEN;
				return false;
			case 9:
				if (!(cf & MQC_USERNAME))
					continue;
				fs->phase = MQ_STRLEN;
				return false;
			case 10:
				if (!(cf & MQC_PASSWORD))
					continue;
				fs->phase = MQ_STRLEN;
				return false;
			}
			break;
		case MQT_PUBLISH:
			switch (step) {
			case 0:				/* topic name */
				fs->phase = MQ_STRLEN;
				return false;
			case 1:				/* packet id if QoS > 0 */
				if (!(MQ_U3_FLAGS(fs->u[3]) & 0x6))
					continue;
				fs->phase = MQ_U16;
				return false;
			case 2:
				if (!v5)
					continue;
				fs->phase = MQ_PROPLEN;
				return false;
			}
			break;
		case MQT_SUBSCRIBE:
		case MQT_UNSUBSCRIBE:
			switch (step) {
			case 0:				/* packet id */
				fs->phase = MQ_U16;
				return false;
			case 1:
				if (!v5)
					continue;
				fs->phase = MQ_PROPLEN;
				return false;
			case 2:				/* a topic filter */
				fs->phase = MQ_STRLEN;
				if (type == MQT_UNSUBSCRIBE)
					fs->u[2] = 2;
				return true;
			default:			/* its options */
				fs->phase = MQ_U8;
				fs->u[2] = 2;
				return false;
			}
		case MQT_PUBACK:
		case MQT_PUBREC:
		case MQT_PUBREL:
		case MQT_PUBCOMP:
			if (step == 0) {		/* packet id */
				fs->phase = MQ_U16;
				return false;
			}
			break;
		}
		fs->phase = MQ_REST;
		return true;
	}
}

/*
 * The element just read was the last of its kind: go on to the next, or
 * end the packet with it.
 */
static void mq_element_end(struct frame_emit *e, bool field)
{
	struct frame_state *fs = e->fs;
	bool may_end = mq_next(fs);

	if (fs->left == 0) {
		if (!may_end) {
			/* the packet ended with an element still due */
			fr_fail(e, FRAME_E_SYNTAX);
			return;
		}
		fr_msg_end(e);
		fs->phase = MQ_FIXED;
		return;
	}
	if (field)
		fr_close(e);
}

/* The fixed header's first byte. */
static void mq_fixed(struct frame_emit *e, uint8_t b)
{
	struct frame_state *fs = e->fs;
	unsigned type = b >> 4;
	bool connected = fs->u[3] & MQ_U3_CONNECTED;

	if (type == 0 || (type == MQT_CONNECT) == connected ||
	    (type == MQT_PUBLISH && (b & 0x6) == 0x6)) {
		fr_fail(e, FRAME_E_SYNTAX);
		return;
	}
	fr_take(e, FRAME_RUN_STRUCT, 1);
	fs->u[3] = MQ_U3_CONNECTED | type | (uint32_t)(b & 0xf) << 4;
	fs->u[0] = 0;
	fs->u[1] = 0;
	fs->phase = MQ_RLEN;
}

static void mq_rlen(struct frame_emit *e, uint8_t b)
{
	struct frame_state *fs = e->fs;

	fs->u[0] |= (uint32_t)(b & 0x7f) << (7 * fs->u[1]);
	if (b & 0x80) {
		if (fs->u[1] == 3) {
			/* a fifth byte: beyond MQTT_MAX_VARINT */
			fr_fail(e, FRAME_E_SYNTAX);
			return;
		}
		fs->u[1]++;
		fr_take(e, FRAME_RUN_STRUCT, 1);
		return;
	}
	if (fs->u[0] > MQTT_MAX_PACKET) {
		fr_fail(e, FRAME_E_LIMIT);
		return;
	}
	fr_take(e, FRAME_RUN_STRUCT, 1);
	fs->left = fs->u[0];
	fs->u[2] = 0;
	mq_element_end(e, false);
}

/* A byte of an integer, a length or a property length. */
static void mq_struct(struct frame_emit *e, uint8_t b)
{
	struct frame_state *fs = e->fs;
	unsigned type = MQ_U3_TYPE(fs->u[3]);
	bool done;

	switch (fs->phase) {
	case MQ_U8:
		if (type == MQT_CONNECT && fs->u[2] == 2) {
			/* the protocol level: whether properties exist */
			if (b != 3 && b != 4 && b != 5) {
				fr_fail(e, FRAME_E_SYNTAX);
				return;
			}
			fs->flags = b;
		} else if (type == MQT_CONNECT && fs->u[2] == 3) {
			fs->u[3] |= (uint32_t)b << 8;
		}
		done = true;
		break;
	case MQ_U16:
	case MQ_STRLEN:
		fs->u[0] = fs->u[0] << 8 | b;
		done = ++fs->u[1] == 2;
		break;
	default:		/* MQ_PROPLEN */
		fs->u[0] |= (uint32_t)(b & 0x7f) << (7 * fs->u[1]);
		done = !(b & 0x80);
		if (!done && fs->u[1] == 3) {
			fr_fail(e, FRAME_E_SYNTAX);
			return;
		}
		fs->u[1]++;
		break;
	}
	fr_take(e, FRAME_RUN_STRUCT, 1);
	fs->left--;
	if (!done) {
		if (fs->left == 0)
			fr_fail(e, FRAME_E_SYNTAX);
		return;
	}
	if (fs->phase == MQ_STRLEN || fs->phase == MQ_PROPLEN) {
		if (fs->u[0] > fs->left) {
			/* the string runs past the packet */
			fr_fail(e, FRAME_E_SYNTAX);
			return;
		}
		if (fs->u[0]) {
			fs->need = fs->u[0];
			fs->phase = fs->phase == MQ_STRLEN ? MQ_STR : MQ_PROPS;
			return;
		}
	}
	mq_element_end(e, false);
}

void frame_mqtt_feed(struct frame_emit *e)
{
	struct frame_state *fs = e->fs;

	while (e->pos < e->len && fs->kind == FRAME_MQTT) {
		uint8_t b = e->buf[e->pos];
		uint32_t avail = e->len - e->pos, n;

		switch (fs->phase) {
		case MQ_FIXED:
			mq_fixed(e, b);
			break;
		case MQ_RLEN:
			mq_rlen(e, b);
			break;
		case MQ_STR:
		case MQ_PROPS:
		case MQ_REST:
			if (fs->phase == MQ_REST)
				fs->need = fs->left;
			n = fs->need < avail ? (uint32_t)fs->need : avail;
			fr_take(e, FRAME_RUN_FIELD, n);
			fs->need -= n;
			fs->left -= n;
			if (fs->need == 0)
				mq_element_end(e, true);
			break;
		default:
			mq_struct(e, b);
			break;
		}
	}
}
