# tests/recall/recall.mk — the recall corpus (included by the Makefile).
#
#   make recall        build $(B)/tests/recall-runner and run
#                      tests/recall/run.sh: the marked cases, the
#                      false-positive corpus and the real log lines
#
# The runner is built as the unit tests are, against the policy library.
# make check runs it too (tests/run-all.sh).

RECALL_BIN := $(B)/tests/recall-runner

$(RECALL_BIN): $(B)/tests/recall/recall.o $(LIBPOLICY)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBPOLICY) $(PKG_LIBS_POLICY)

recall: all $(RECALL_BIN)
	$(Q)B=$(B) tests/recall/run.sh

.PHONY: recall

# make check runs tests/recall/run.sh: the runner must be built
check-run: $(RECALL_BIN)
