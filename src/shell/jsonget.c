#include "jsonget.h"

struct json_object *jsonget_member(struct json_object *o, const char *key, enum json_type type)
{
	struct json_object *m;
	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &m) ||
	    !json_object_is_type(m, type))
		return NULL;
	return m;
}

const char *jsonget_str(struct json_object *o, const char *key, const char *def)
{
	struct json_object *m = jsonget_member(o, key, json_type_string);
	return m ? json_object_get_string(m) : def;
}

int64_t jsonget_int(struct json_object *o, const char *key, int64_t def)
{
	struct json_object *m = jsonget_member(o, key, json_type_int);
	return m ? json_object_get_int64(m) : def;
}

bool jsonget_bool(struct json_object *o, const char *key, bool def)
{
	struct json_object *m = jsonget_member(o, key, json_type_boolean);
	return m ? json_object_get_boolean(m) : def;
}
