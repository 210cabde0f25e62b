/* The CLI's JSON reader (core/jsonread.c), against the writer (core/json.c). */
#include <stdlib.h>

#include "core/json.h"
#include "core/jsonread.h"
#include "test.h"

TEST(jsonread_reads_what_json_writes)
{
	struct json j;
	json_init(&j);
	json_object_begin(&j);
	json_key(&j, "active");
	json_string(&j, "win \"10\"\n\x01");
	json_key(&j, "n");
	json_int(&j, -42);
	json_key(&j, "big");
	json_uint(&j, 1234567890123ull);
	json_key(&j, "ok");
	json_bool(&j, true);
	json_key(&j, "none");
	json_string(&j, NULL);
	json_key(&j, "list");
	json_array_begin(&j);
	json_object_begin(&j);
	json_key(&j, "name");
	json_string(&j, "host");
	json_object_end(&j);
	json_array_begin(&j);
	json_array_end(&j);
	json_object_begin(&j);
	json_object_end(&j);
	json_array_end(&j);
	json_object_end(&j);
	CHECK(!j.failed);

	char err[128];
	struct jval *v = jsonread_parse(j.buf, err, sizeof(err));
	json_finish(&j);
	CHECK(v);
	CHECK_INT(v->type, JOBJECT);
	CHECK_STR(jsonread_str(v, "active", NULL), "win \"10\"\n\x01");
	CHECK_INT(jsonread_int(v, "n", 0), -42);
	CHECK_INT(jsonread_int(v, "big", 0), 1234567890123ll);
	CHECK(jsonread_bool(v, "ok", false));
	CHECK_INT(jsonread_get(v, "none")->type, JNULL);
	CHECK_STR(jsonread_str(v, "none", "dflt"), "dflt");
	CHECK_INT(jsonread_int(v, "active", 7), 7);
	CHECK(jsonread_get(v, "missing") == NULL);
	const struct jval *l = jsonread_get(v, "list");
	CHECK(l && l->type == JARRAY);
	CHECK_STR(jsonread_str(l->child, "name", NULL), "host");
	CHECK_INT(l->child->next->type, JARRAY);
	CHECK(l->child->next->child == NULL);
	CHECK_INT(l->child->next->next->type, JOBJECT);
	CHECK(l->child->next->next->next == NULL);
	jsonread_free(v);
}

TEST(jsonread_escapes)
{
	char err[128];
	struct jval *v = jsonread_parse(" [\"a\\u00e4\\u20ac\\ud83d\\ude00\\/\\t\", \"\\ud800x\"] ", err, sizeof(err));
	CHECK(v);
	CHECK_STR(v->child->s, "a\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80/\t");
	CHECK_STR(v->child->next->s, "\xef\xbf\xbdx");
	jsonread_free(v);
}

TEST(jsonread_rejects_bad_text)
{
	static const char *const bad[] = { "", "{", "[1,]", "{\"a\" 1}", "{1:2}", "\"abc", "[1.5]", "tru",
					   "{} x", "\"\\q\"", "\"a\nb\"", "[\"\\u12\"]", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128] = "";
		struct jval *v = jsonread_parse(bad[i], err, sizeof(err));
		if (v) {
			jsonread_free(v);
			test_fail(__FILE__, __LINE__, "accepted '%s'", bad[i]);
			return;
		}
		CHECK(err[0]);
	}
	char deep[200] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	char err[128];
	CHECK(jsonread_parse(deep, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "nested too deeply") != NULL);
}
