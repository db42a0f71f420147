/*
 * test_flowdir.c — the dry-run's directions per 5-tuple (tools/flowdir.c):
 * the handshake before the ports, the ports before nothing, what is
 * remembered, a tuple reused the other way, replacement in a full set.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "../../tools/flowdir.c"

static const char policy[] =
	"service mqtt {\n\tlisten tcp 1883\n}\n"
	"service syslog {\n\tlisten udp 514\n\tlisten tcp 6514\n}\n";

struct fixture {
	struct ruleset *rs;
	struct flowdir *fd;
};

static int setup(void **state)
{
	static struct fixture f;
	struct diag_list *dl = NULL;

	f.rs = policy_load_string("<test>", policy, NULL, &dl);
	diag_list_free(dl);
	if (!f.rs)
		return -1;
	f.fd = flowdir_new(f.rs, 4);
	*state = &f;
	return f.fd ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	flowdir_free(f->fd);
	policy_free(f->rs);
	return 0;
}

static struct flowdir_tuple tuple(uint8_t proto, uint8_t a, uint16_t ap,
				  uint8_t b, uint16_t bp)
{
	struct flowdir_tuple t;

	memset(&t, 0, sizeof(t));
	t.family = 4;
	t.proto = proto;
	t.src[0] = 192;
	t.src[3] = a;
	t.dst[0] = 198;
	t.dst[3] = b;
	t.sport = ap;
	t.dport = bp;
	return t;
}

static struct flowdir_tuple reversed(const struct flowdir_tuple *t)
{
	struct flowdir_tuple r = *t;

	memcpy(r.src, t->dst, 16);
	memcpy(r.dst, t->src, 16);
	r.sport = t->dport;
	r.dport = t->sport;
	return r;
}

static enum engine_dir decide(struct flowdir *fd, const struct flowdir_tuple *t,
			      uint8_t flags, enum flowdir_how *how,
			      struct flowdir_entry **e)
{
	static uint32_t now;

	return flowdir_decide(fd, t, flags, ++now, e, how);
}

static void test_service_ports(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(flowdir_service_of_port(f->fd, IPPROTO_TCP, 1883), 0);
	assert_int_equal(flowdir_service_of_port(f->fd, IPPROTO_UDP, 514), 1);
	assert_int_equal(flowdir_service_of_port(f->fd, IPPROTO_TCP, 6514), 1);
	assert_int_equal(flowdir_service_of_port(f->fd, IPPROTO_UDP, 1883), -1);
	assert_int_equal(flowdir_service_of_port(f->fd, IPPROTO_ICMP, 1883), -1);
}

/* A SYN decides, also towards a port no service has; then it is remembered. */
static void test_handshake(void **state)
{
	struct fixture *f = *state;
	struct flowdir_tuple t = tuple(IPPROTO_TCP, 1, 1883, 2, 40000), r;
	struct flowdir_entry *e;
	enum flowdir_how how;

	/* the client uses the service port as its own: the SYN says so */
	assert_int_equal(decide(f->fd, &t, 0x02, &how, &e), ENGINE_DIR_IN);
	assert_int_equal(how, FLOWDIR_HANDSHAKE);
	assert_non_null(e);
	r = reversed(&t);
	assert_int_equal(decide(f->fd, &r, 0x12, &how, &e), ENGINE_DIR_OUT);
	assert_int_equal(how, FLOWDIR_HANDSHAKE);
	/* the ports alone would say the other way round */
	assert_int_equal(decide(f->fd, &r, 0x10, &how, &e), ENGINE_DIR_OUT);
	assert_int_equal(how, FLOWDIR_REMEMBERED);
	assert_int_equal(decide(f->fd, &t, 0x18, &how, &e), ENGINE_DIR_IN);
	assert_int_equal(how, FLOWDIR_REMEMBERED);
}

static void test_ports(void **state)
{
	struct fixture *f = *state;
	struct flowdir_tuple t = tuple(IPPROTO_TCP, 3, 1883, 4, 50000);
	struct flowdir_tuple u = tuple(IPPROTO_UDP, 5, 514, 6, 514);
	struct flowdir_tuple v = tuple(IPPROTO_UDP, 7, 53, 8, 40000);
	struct flowdir_entry *e;
	enum flowdir_how how;

	/* the first packet seen comes from the service port: a reply */
	assert_int_equal(decide(f->fd, &t, 0x18, &how, &e), ENGINE_DIR_OUT);
	assert_int_equal(how, FLOWDIR_PORT);
	assert_int_equal(e->cport, 50000);
	/* service port at both ends: the lower one is the server's, here
	 * both are 514 and the packet goes to the server */
	assert_int_equal(decide(f->fd, &u, 0, &how, &e), ENGINE_DIR_IN);
	assert_int_equal(how, FLOWDIR_PORT);
	u = reversed(&u);
	assert_int_equal(decide(f->fd, &u, 0, &how, &e), ENGINE_DIR_OUT);
	assert_int_equal(how, FLOWDIR_REMEMBERED);
	/* no service port: undecided, taken as inbound, not remembered */
	assert_int_equal(decide(f->fd, &v, 0, &how, &e), ENGINE_DIR_IN);
	assert_int_equal(how, FLOWDIR_UNDECIDED);
	assert_null(e);
	assert_int_equal(flowdir_lookup(f->fd, &v, &e), ENGINE_DIR_AUTO);
	assert_null(e);
}

/* A tuple reused the other way round: its new SYN wins, its side is reset. */
static void test_reused(void **state)
{
	struct fixture *f = *state;
	struct flowdir_tuple t = tuple(IPPROTO_TCP, 9, 40001, 10, 1883), r;
	struct flowdir_entry *e;
	enum flowdir_how how;

	assert_int_equal(decide(f->fd, &t, 0x02, &how, &e), ENGINE_DIR_IN);
	e->side = FLOWDIR_SIDE_CLIENT;
	r = reversed(&t);
	assert_int_equal(decide(f->fd, &r, 0x02, &how, &e), ENGINE_DIR_IN);
	assert_int_equal(e->side, FLOWDIR_SIDE_UNKNOWN);
	assert_int_equal(e->cport, 1883);
	assert_int_equal(flowdir_lookup(f->fd, &t, &e), ENGINE_DIR_OUT);
	assert_non_null(e);
}

/* flowdir_remember() keeps what is there; lookups do not remember. */
static void test_remember_lookup(void **state)
{
	struct fixture *f = *state;
	struct flowdir_tuple t = tuple(IPPROTO_UDP, 11, 514, 12, 514), r;
	struct flowdir_entry *e, *e2;
	enum flowdir_how how;

	assert_int_equal(flowdir_lookup(f->fd, &t, &e), ENGINE_DIR_IN);
	assert_null(e);
	r = reversed(&t);
	e = flowdir_remember(f->fd, &r, 1);
	assert_non_null(e);
	/* by the ports the reverse would go in; remembered, it goes out */
	assert_int_equal(decide(f->fd, &t, 0, &how, &e2), ENGINE_DIR_OUT);
	assert_int_equal(how, FLOWDIR_REMEMBERED);
	assert_ptr_equal(e, e2);
	assert_ptr_equal(flowdir_remember(f->fd, &t, 2), e);
	assert_int_equal(flowdir_lookup(f->fd, &r, &e2), ENGINE_DIR_IN);
}

/* A full set gives up its least recently used tuple. */
static void test_replacement(void **state)
{
	struct fixture *f = *state;
	struct ruleset *rs = f->rs;
	struct flowdir *fd = flowdir_new(rs, 0);	/* one set of WAYS */
	struct flowdir_tuple t[WAYS + 1];
	struct flowdir_entry *e;
	enum flowdir_how how;

	assert_non_null(fd);
	for (unsigned i = 0; i <= WAYS; i++)
		t[i] = tuple(IPPROTO_TCP, (uint8_t)(20 + i), 1883,
			     (uint8_t)(40 + i), 40000);
	for (unsigned i = 0; i < WAYS; i++)
		assert_int_equal(flowdir_decide(fd, &t[i], 0x12, i + 1, &e, &how),
				 ENGINE_DIR_OUT);
	/* the first one is used again: the second is now the oldest */
	flowdir_decide(fd, &t[0], 0x10, 10, &e, &how);
	assert_int_equal(how, FLOWDIR_REMEMBERED);
	flowdir_decide(fd, &t[WAYS], 0x12, 11, &e, &how);
	assert_int_equal(flowdir_lookup(fd, &t[0], &e), ENGINE_DIR_OUT);
	assert_non_null(e);
	flowdir_lookup(fd, &t[1], &e);
	assert_null(e);
	for (unsigned i = 2; i <= WAYS; i++) {
		flowdir_lookup(fd, &t[i], &e);
		assert_non_null(e);
	}
	flowdir_free(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_ports),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_reused),
		cmocka_unit_test(test_remember_lookup),
		cmocka_unit_test(test_replacement),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
