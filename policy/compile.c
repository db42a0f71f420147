/*
 * compile.c — a checked syntax tree into the flat ruleset the engine
 * reads (ruleset.h): service arrays, the port map, JIT-compiled
 * patterns, and the keyring.  Runs only on an error-free tree, so what
 * it finds wrong here is the environment (memory, the key file).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "key.h"
#include "lang.h"
#include "ruleset.h"

#define DEFAULT_TRUNC4 24
#define DEFAULT_TRUNC6 48

struct compiler {
	const struct src *src;
	struct diag_list *dl;
	struct ruleset *rs;
};

/* Patterns are matched as bytes: payloads are not promised to be UTF-8. */
static pcre2_code *compile_pattern(struct compiler *cc, const struct ast_str *pat)
{
	PCRE2_SIZE erroff;
	uint32_t captures = 0;
	pcre2_code *re;
	int err;

	re = pcre2_compile((PCRE2_SPTR)pat->s, pat->len, 0, &err, &erroff, NULL);
	if (!re)
		return NULL;
	/* Without JIT the interpreter still matches correctly, only slower. */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	if (pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &captures) == 0 &&
	    captures + 1 > cc->rs->max_capture)
		cc->rs->max_capture = captures + 1;
	return re;
}

static void to_rs_prefix(const struct ast_prefix *p, struct rs_prefix *out)
{
	memset(out, 0, sizeof(*out));
	out->family = p->family;
	out->plen = (uint8_t)p->plen;
	memcpy(out->addr, p->addr, p->family == 4 ? 4 : 16);
}

static void compile_addr(const struct ast_stmt *st, uint8_t family,
			 struct rs_addr_rule *out)
{
	memset(out, 0, sizeof(*out));
	if (!st) {
		out->mode = ADDR_TRUNCATE;
		out->plen = family == 4 ? DEFAULT_TRUNC4 : DEFAULT_TRUNC6;
		return;
	}
	out->mode = st->address.mode;
	switch (st->address.mode) {
	case ADDR_KEEP:
		out->plen = family == 4 ? 32 : 128;
		break;
	case ADDR_TRUNCATE:
	case ADDR_PERMUTE:
		out->plen = st->address.has_len ? (uint8_t)st->address.len.v :
			    family == 4 ? DEFAULT_TRUNC4 : DEFAULT_TRUNC6;
		break;
	case ADDR_MAP:
		to_rs_prefix(&st->address.range, &out->range);
		out->plen = out->range.plen;
		break;
	}
}

static int compile_redact(struct compiler *cc, const struct ast_stmt *st,
			  uint8_t base4, uint8_t base6, struct rs_redact *r)
{
	const struct ast_str *arg = &st->redact.arg;

	memset(r, 0, sizeof(*r));
	r->det = st->redact.det;
	r->act = st->redact.act;
	r->relaxed = st->redact.relaxed;
	r->trunc4 = base4;
	r->trunc6 = base6;
	r->hostnames = st->redact.hostnames;
	if (r->act == ACT_TRUNCATE) {
		if (r->det == DET_IPV6) {
			r->trunc6 = st->redact.n_nums ?
				(uint8_t)st->redact.nums[0].v : DEFAULT_TRUNC6;
		} else if (r->det == DET_IPV4) {
			r->trunc4 = st->redact.n_nums ?
				(uint8_t)st->redact.nums[0].v : DEFAULT_TRUNC4;
		} else {
			r->trunc4 = st->redact.n_nums > 0 ?
				(uint8_t)st->redact.nums[0].v : DEFAULT_TRUNC4;
			r->trunc6 = st->redact.n_nums > 1 ?
				(uint8_t)st->redact.nums[1].v : DEFAULT_TRUNC6;
		}
	}
	switch (r->det) {
	case DET_LITERAL: {
		uint8_t *lit = malloc(arg->len ? arg->len : 1);

		if (!lit)
			return -ENOMEM;
		memcpy(lit, arg->s, arg->len);
		r->literal = lit;
		r->literal_len = (uint32_t)arg->len;
		break;
	}
	case DET_PATTERN:
		r->re = compile_pattern(cc, arg);
		if (!r->re)
			return -ENOMEM;
		break;
	case DET_HEADER:
		r->header = strndup(arg->s, arg->len);
		if (!r->header)
			return -ENOMEM;
		r->header_len = (uint32_t)arg->len;
		break;
	default:
		break;
	}
	return 0;
}

/* The `redact ipv4|ipv6 truncate N` of @svc, for IPv4 text inside IPv6 text. */
static void service_trunc_bases(const struct ast_service *svc, uint8_t *b4,
				uint8_t *b6)
{
	*b4 = DEFAULT_TRUNC4;
	*b6 = DEFAULT_TRUNC6;
	for (size_t i = 0; i < svc->n; i++) {
		const struct ast_stmt *st = &svc->stmts[i];

		if (st->kind != ST_REDACT || st->redact.act != ACT_TRUNCATE ||
		    !st->redact.n_nums)
			continue;
		if (st->redact.det == DET_IPV4)
			*b4 = (uint8_t)st->redact.nums[0].v;
		else if (st->redact.det == DET_IPV6)
			*b6 = (uint8_t)st->redact.nums[0].v;
	}
}

static int compile_service(struct compiler *cc, const struct ast_service *svc,
			   unsigned idx)
{
	struct rs_service *out = &cc->rs->services[idx];
	unsigned n_ports = 0, n_clients = 0, n_redact = 0, n_allow = 0;
	uint8_t base4, base6;
	int rc;

	for (size_t i = 0; i < svc->n; i++) {
		const struct ast_stmt *st = &svc->stmts[i];

		if (st->kind == ST_LISTEN)
			n_ports += (unsigned)st->listen.n;
		else if (st->kind == ST_CLIENTS)
			n_clients += (unsigned)st->clients.n;
		else if (st->kind == ST_REDACT)
			n_redact++;
		else if (st->kind == ST_ALLOW)
			n_allow++;
	}
	out->name = strdup(svc->name);
	out->ports = calloc(n_ports ? n_ports : 1, sizeof(*out->ports));
	out->clients = n_clients ? calloc(n_clients, sizeof(*out->clients)) : NULL;
	out->redact = n_redact ? calloc(n_redact, sizeof(*out->redact)) : NULL;
	out->allow = n_allow ? calloc(n_allow, sizeof(*out->allow)) : NULL;
	if (!out->name || !out->ports || (n_clients && !out->clients) ||
	    (n_redact && !out->redact) || (n_allow && !out->allow))
		return -ENOMEM;

	if (svc->queue) {
		out->queue_lo = (uint16_t)svc->queue->queue.lo.v;
		out->queue_hi = (uint16_t)svc->queue->queue.hi.v;
	}
	out->on_error_accept = svc->on_error && svc->on_error->on_error.accept;
	out->hold_ns = svc->hold ? svc->hold->hold.ms * 1000000 : RS_HOLD_DEFAULT_NS;
	out->hold_mask = svc->hold && svc->hold->hold.mask;
	out->frame = svc->frame ? svc->frame->frame.kind : FRAME_AUTO;
	compile_addr(svc->addr[0], 4, &out->addr4);
	compile_addr(svc->addr[1], 6, &out->addr6);
	service_trunc_bases(svc, &base4, &base6);

	for (size_t i = 0; i < svc->n; i++) {
		const struct ast_stmt *st = &svc->stmts[i];

		switch (st->kind) {
		case ST_LISTEN:
			for (size_t j = 0; j < st->listen.n; j++) {
				const struct ast_range *r = &st->listen.ports[j];
				struct rs_port_range *pr = &out->ports[out->n_ports++];

				pr->proto = st->listen.proto;
				pr->lo = (uint16_t)r->lo.v;
				pr->hi = (uint16_t)r->hi.v;
				for (unsigned p = pr->lo; p <= pr->hi; p++)
					cc->rs->port_map[pr->proto][p] =
						(uint8_t)(idx + 1);
			}
			break;
		case ST_CLIENTS:
			for (size_t j = 0; j < st->clients.n; j++)
				to_rs_prefix(&st->clients.v[j],
					     &out->clients[out->n_clients++]);
			break;
		case ST_REDACT:
			rc = compile_redact(cc, st, base4, base6,
					    &out->redact[out->n_redact]);
			out->n_redact++;
			if (rc)
				return rc;
			out->det_mask |= 1u << st->redact.det;
			break;
		case ST_ALLOW:
			out->allow[out->n_allow] = compile_pattern(cc, &st->allow);
			if (!out->allow[out->n_allow])
				return -ENOMEM;
			out->n_allow++;
			break;
		default:
			break;
		}
	}
	return 0;
}

static struct keyring *make_keyring(struct compiler *cc,
				    const struct ast_policy *ast,
				    const struct ruleset *previous,
				    uint64_t epoch)
{
	struct keyring *kr;

	if (key_init() < 0) {
		diag_add(cc->dl, cc->src, DIAG_ERROR, (struct loc){ 0 },
			 "cannot initialise the crypto library");
		return NULL;
	}
	if (ast->key) {
		const char *why;

		kr = keyring_load(ast->key_path, epoch, &why);
		if (!kr) {
			diag_add(cc->dl, cc->src, DIAG_ERROR, ast->key->key.loc,
				 "cannot load key file \"%s\": %s",
				 ast->key->key.s, why ? why : strerror(errno));
			return NULL;
		}
		/*
		 * A reload never goes back to a ratchet key the running one
		 * has left behind: that epoch's key was erased.
		 */
		if (keyring_is_ratchet(kr) && previous &&
		    keyring_is_ratchet(previous->keys) &&
		    keyring_ratchet_epoch(kr) <
		    keyring_ratchet_epoch(previous->keys)) {
			diag_add(cc->dl, cc->src, DIAG_ERROR, ast->key->key.loc,
				 "ratchet state \"%s\" is at epoch %llu, behind "
				 "the running key's epoch %llu (rolled back?): "
				 "refused, an erased key never comes back",
				 ast->key->key.s,
				 (unsigned long long)keyring_ratchet_epoch(kr),
				 (unsigned long long)
				 keyring_ratchet_epoch(previous->keys));
			keyring_free(kr);
			return NULL;
		}
		return kr;
	}
	kr = previous && previous->keys ? keyring_clone(previous->keys, epoch) :
					  keyring_random(epoch);
	if (!kr)
		diag_add(cc->dl, cc->src, DIAG_ERROR, (struct loc){ 0 },
			 "cannot make a key: %s", strerror(errno ? errno : ENOMEM));
	return kr;
}

/**
 * lang_compile() - see lang.h
 */
struct ruleset *lang_compile(const struct src *src,
			     const struct ast_policy *ast,
			     const struct ruleset *previous,
			     struct diag_list *dl)
{
	struct compiler cc = { .src = src, .dl = dl };
	uint64_t epoch = ast->epoch ? ast->epoch->epoch.seconds : 0;
	int rc = 0;

	cc.rs = calloc(1, sizeof(*cc.rs));
	if (!cc.rs)
		goto nomem;
	cc.rs->epoch_seconds = epoch;
	cc.rs->max_capture = 1;
	if (ast->n_svcs) {
		cc.rs->services = calloc(ast->n_svcs, sizeof(*cc.rs->services));
		if (!cc.rs->services)
			goto nomem;
	}
	for (size_t i = 0; i < ast->n_svcs; i++) {
		cc.rs->n_services++;
		rc = compile_service(&cc, &ast->svcs[i], (unsigned)i);
		if (rc)
			goto nomem;
	}
	cc.rs->keys = make_keyring(&cc, ast, previous, epoch);
	if (!cc.rs->keys)
		goto out_free;
	cc.rs->key_grace = ast->key_grace ? ast->key_grace->epoch.seconds :
					    KEY_GRACE_DEFAULT;
	keyring_set_grace(cc.rs->keys, cc.rs->key_grace);
	/* a ratchet state brings its own epoch length */
	if (ast->epoch && keyring_is_ratchet(cc.rs->keys) &&
	    ast->epoch->epoch.seconds != keyring_epoch_seconds(cc.rs->keys))
		diag_add(dl, src, DIAG_WARNING, ast->epoch->epoch.loc,
			 "epoch ignored: the ratchet state's own epoch length "
			 "(%llus) is used", (unsigned long long)
			 keyring_epoch_seconds(cc.rs->keys));
	cc.rs->epoch_seconds = keyring_epoch_seconds(cc.rs->keys);
	return cc.rs;

nomem:
	diag_add(dl, src, DIAG_ERROR, (struct loc){ 0 },
		 "out of memory compiling the policy");
out_free:
	policy_free(cc.rs);
	return NULL;
}

/**
 * policy_free() - free @rs: services, patterns, texts and the keyring
 * @rs: a ruleset from policy_load() or policy_default(); NULL is fine
 */
void policy_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (unsigned i = 0; i < rs->n_services; i++) {
		struct rs_service *svc = &rs->services[i];

		free(svc->name);
		free(svc->ports);
		free(svc->clients);
		for (unsigned j = 0; svc->redact && j < svc->n_redact; j++) {
			free((void *)svc->redact[j].literal);
			free((void *)svc->redact[j].header);
			pcre2_code_free(svc->redact[j].re);
		}
		free(svc->redact);
		for (unsigned j = 0; svc->allow && j < svc->n_allow; j++)
			pcre2_code_free(svc->allow[j]);
		free(svc->allow);
	}
	free(rs->services);
	keyring_free(rs->keys);
	free(rs);
}

/**
 * policy_service_count() - number of services in @rs
 */
unsigned policy_service_count(const struct ruleset *rs)
{
	return rs ? rs->n_services : 0;
}

/**
 * policy_service_name() - the name of service @svc, or NULL when out of range
 */
const char *policy_service_name(const struct ruleset *rs, unsigned svc)
{
	return rs && svc < rs->n_services ? rs->services[svc].name : NULL;
}

/**
 * policy_service_on_error_accept() - the service says `on-error accept`
 */
bool policy_service_on_error_accept(const struct ruleset *rs, unsigned svc)
{
	return rs && svc < rs->n_services && rs->services[svc].on_error_accept;
}

/**
 * policy_epoch_seconds() - the epoch length (0: one epoch forever)
 */
uint64_t policy_epoch_seconds(const struct ruleset *rs)
{
	return rs ? rs->epoch_seconds : 0;
}

/**
 * policy_key_ratchet() - see policy.h
 */
bool policy_key_ratchet(const struct ruleset *rs)
{
	return rs && keyring_is_ratchet(rs->keys);
}

/**
 * policy_key_erased() - see policy.h
 */
bool policy_key_erased(const struct ruleset *rs, uint64_t unix_seconds,
		       uint64_t *epoch, uint64_t *first, uint64_t *span)
{
	uint64_t e, len, start;

	if (!policy_key_ratchet(rs))
		return false;
	len = keyring_epoch_seconds(rs->keys);
	start = keyring_epoch_span(rs->keys, 0);
	e = unix_seconds < start ? 0 : (unix_seconds - start) / len;
	if (epoch)
		*epoch = e;
	if (span)
		*span = keyring_epoch_span(rs->keys, e);
	return keyring_epoch_erased(rs->keys, e, first);
}

/**
 * policy_key_grace() - see policy.h
 */
uint64_t policy_key_grace(const struct ruleset *rs)
{
	return rs ? rs->key_grace : KEY_GRACE_DEFAULT;
}

/**
 * policy_key_tick() - see policy.h
 */
void policy_key_tick(const struct ruleset *rs, uint64_t unix_seconds)
{
	if (policy_key_ratchet(rs))
		(void)keyring_epoch(rs->keys, unix_seconds);
}
