#include "parseonly.h"

#include <stdlib.h>
#include <string.h>

bool parse_only(void)
{
	const char *v = getenv("KVMSWITCH_PARSE_ONLY");
	return v && strcmp(v, "1") == 0;
}
