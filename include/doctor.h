/* `kvmswitch doctor`: checks the machine's set-up for kvmswitch and says,
 * for each finding, what to do (kvmswitch(1), DOCTOR). */
#ifndef KVMSWITCH_DOCTOR_H
#define KVMSWITCH_DOCTOR_H

#include <stdbool.h>

extern const char doctor_help[];

/* Runs every check with the configuration at config_path (NULL: the usual
 * search) and prints the findings, as text or JSON. Returns 0 when nothing
 * failed, 1 otherwise. */
int doctor_run(const char *config_path, bool json);

#endif
