/* Contact points out of log lines. A log line may quote what a client or
 * a script sent (an error naming a bad phone number, a reply's sender), so
 * everything the service logs passes through mask_contacts: e-mail
 * addresses and phone numbers, however they are written, and other long
 * digit runs (account and ID numbers) are masked. */
#ifndef RECOUP_MASK_H
#define RECOUP_MASK_H

#include <stddef.h>

/* Writes in, masked, to out (NUL-terminated, cut to size at a character
 * boundary); returns the length written. Masking its own output changes
 * nothing. */
size_t mask_contacts(const char *in, char *out, size_t size);

#endif
