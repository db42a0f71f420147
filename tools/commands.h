/*
 * commands.h — the subcommands of nfredact(8).  Each returns the process
 * exit status: 0 success, 1 a finding (bad policy ...), 2 a usage error.
 */
#ifndef NFREDACT_COMMANDS_H
#define NFREDACT_COMMANDS_H

int cmd_check(int argc, char **argv);
int cmd_dryrun(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_ruleset(int argc, char **argv);
int cmd_kcheck(int argc, char **argv);
int cmd_stats(int argc, char **argv);

#endif
