/* The fault backend's switches (fault.c), for tests: install it, open a
 * store (the engine's, through engine_open), then arm it to fail the
 * operation `op` (a store_ops member name; NULL: any) after `skip` calls
 * of it are let through: the next one fails, or with every, each one
 * until disarmed. disarm returns how many failed. */
#ifndef RECOUP_STORE_FAULT_H
#define RECOUP_STORE_FAULT_H

#include "store/backend.h"

void store_fault_install(int on);
void store_fault_arm(const char *op, long skip, int every);
long store_fault_disarm(void);

/* store.c: the table a store opened now runs behind (ops itself unless
 * the fault backend is installed). */
const store_ops *store_fault_wrap(const store_ops *ops);
extern const store_ops store_fault_ops;

#endif
