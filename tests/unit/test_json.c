/* The JSON writer (core/json.c) and the buffer under it (core/buf.c). */
#include <stdlib.h>

#include "core/buf.h"
#include "core/json.h"
#include "test.h"

TEST(json_writes_exact_text)
{
	struct json j;
	json_init(&j);
	CHECK_STR(json_text(&j), "");
	json_object_begin(&j);
	json_key(&j, "active");
	json_string(&j, "win \"10\"\\\n\t\x01");
	json_key(&j, "n");
	json_int(&j, -42);
	json_key(&j, "big");
	json_uint(&j, 18446744073709551615ull);
	json_key(&j, "ok");
	json_bool(&j, true);
	json_key(&j, "none");
	json_string(&j, NULL);
	json_key(&j, "list");
	json_array_begin(&j);
	json_object_begin(&j);
	json_key(&j, "name");
	json_string(&j, "h\xc3\xb6st");
	json_object_end(&j);
	json_array_begin(&j);
	json_array_end(&j);
	json_object_begin(&j);
	json_object_end(&j);
	json_null(&j);
	json_array_end(&j);
	json_object_end(&j);
	CHECK_STR(json_text(&j), "{\"active\":\"win \\\"10\\\"\\\\\\n\\t\\u0001\",\"n\":-42,"
				 "\"big\":18446744073709551615,\"ok\":true,\"none\":null,"
				 "\"list\":[{\"name\":\"h\xc3\xb6st\"},[],{},null]}");
	CHECK_INT(j.depth, 0);
	json_finish(&j);
	CHECK(j.out.data == NULL);
}

TEST(buf_appends_and_consumes)
{
	struct buf b;
	buf_init(&b);
	for (int i = 0; i < 1000; i++)
		CHECK_INT(buf_append(&b, "0123456789", 10), 0);
	CHECK_INT(b.len, 10000);
	CHECK(b.cap > b.len);
	CHECK_INT(b.data[b.len], '\0');
	buf_consume(&b, 9995);
	CHECK_STR(b.data, "56789");
	buf_consume(&b, 0);
	CHECK_STR(b.data, "56789");
	buf_consume(&b, 5);
	CHECK_INT(b.len, 0);
	CHECK_STR(b.data, "");
	CHECK(!b.failed);
	buf_finish(&b);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}
