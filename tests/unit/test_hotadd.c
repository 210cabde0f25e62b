/* input-linux objects over QMP (src/shell/hotadd.c, json-c): the commands
 * kvmswitch sends, how it reads QEMU's lines, and the steps that make adding
 * an object idempotent. The unit-test binary links hotadd.o and json-c for
 * these (Makefile); hotadd.h names no json-c type. */
#include <stdlib.h>

#include "hotadd.h"
#include "test.h"

static struct qmp_msg parse(const char *line)
{
	struct qmp_msg m;
	qmp_msg_parse(line, strlen(line), &m);
	return m;
}

static void reply(struct hotadd *h, const char *line)
{
	struct qmp_msg m = parse(line);
	hotadd_reply(h, &m);
}

TEST(hotadd_reads_qmp_lines)
{
	struct qmp_msg m = parse("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}}, "
				 "\"capabilities\": [\"oob\"]}}");
	CHECK_INT(m.kind, QMP_GREETING);
	m = parse("{\"return\": {}, \"id\": \"ks-3\"}");
	CHECK_INT(m.kind, QMP_RETURN);
	CHECK_STR(m.tag, "ks-3");
	CHECK_STR(m.value, "");
	m = parse("{\"return\": \"/dev/input/event7\", \"id\": \"ks-4\"}");
	CHECK_STR(m.value, "/dev/input/event7");
	m = parse("{\"id\": \"ks-5\", \"error\": {\"class\": \"GenericError\", \"desc\": \"attempt to add duplicate "
		  "property 'kvmswitch-win-keyboard' to object (type 'container')\"}}");
	CHECK_INT(m.kind, QMP_ERROR);
	CHECK_STR(m.tag, "ks-5");
	CHECK(strstr(m.error, "duplicate property") != NULL);
	m = parse("{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"RESUME\"}");
	CHECK_INT(m.kind, QMP_EVENT);
	/* Whatever else a socket says is junk, never an error or a return. */
	static const char *const junk[] = { "", "not json", "[1,2]", "\"return\"", "{\"return\": {}", "{}",
					    "{\"error\": 5} trailing", "{\"return\": {}} {\"return\": {}}" };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		m = parse(junk[i]);
		if (m.kind != QMP_JUNK)
			test_fail(__FILE__, __LINE__, "'%s' read as kind %d", junk[i], m.kind);
	}
	/* An error without a desc still says something. */
	m = parse("{\"error\": {}}");
	CHECK_INT(m.kind, QMP_ERROR);
	CHECK(m.error[0] != '\0');
}

TEST(hotadd_commands)
{
	struct hotadd h;
	hotadd_init(&h, "win", VK_KEYBOARD, "/dev/input/event5", "ctrl-ctrl", false);
	CHECK_STR(h.id, "kvmswitch-win-keyboard");
	char *c = hotadd_command(&h, "ks-1");
	CHECK_STR(c, "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"input-linux\",\"id\":"
		     "\"kvmswitch-win-keyboard\",\"evdev\":\"\\/dev\\/input\\/event5\",\"repeat\":true,\"grab_all\":true,"
		     "\"grab-toggle\":\"ctrl-ctrl\"},\"id\":\"ks-1\"}\n");
	free(c);
	hotadd_init(&h, "win", VK_POINTER, "/dev/input/event6", NULL, false);
	c = hotadd_command(&h, NULL);
	CHECK_STR(c, "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":\"input-linux\",\"id\":"
		     "\"kvmswitch-win-pointer\",\"evdev\":\"\\/dev\\/input\\/event6\"}}\n");
	free(c);
	hotadd_init(&h, "win", VK_KEYBOARD, "/dev/input/event5", NULL, false);
	CHECK_STR(h.toggle, "meta-meta");
	c = qmp_msg_capabilities("ks-0");
	CHECK_STR(c, "{\"execute\":\"qmp_capabilities\",\"id\":\"ks-0\"}\n");
	free(c);
}

#define DUP "{\"error\": {\"class\": \"GenericError\", \"desc\": \"attempt to add duplicate property 'x' to object\"}}"

/* Added once, it is done; a second kvmswitch finds the id taken and asks
 * what the object reads: the adopted device it has is kept, anything else
 * is deleted and added again. */
TEST(hotadd_is_idempotent)
{
	struct hotadd h;
	hotadd_init(&h, "lin", VK_POINTER, "/dev/input/event9", NULL, false);
	reply(&h, "{\"return\": {}}");
	CHECK_INT(h.state, HA_DONE);
	CHECK(hotadd_settled(&h));
	CHECK(hotadd_command(&h, "x") == NULL);

	/* adopted from the fd store, and QEMU reads it: kept */
	hotadd_init(&h, "lin", VK_POINTER, "/dev/input/event9", NULL, true);
	reply(&h, DUP);
	CHECK_INT(h.state, HA_QUERY);
	char *c = hotadd_command(&h, "q");
	CHECK_STR(c, "{\"execute\":\"qom-get\",\"arguments\":{\"path\":\"\\/objects\\/kvmswitch-lin-pointer\","
		     "\"property\":\"evdev\"},\"id\":\"q\"}\n");
	free(c);
	reply(&h, "{\"return\": \"/dev/input/event9\"}");
	CHECK_INT(h.state, HA_DONE);

	/* a node of the same name made anew is another device: replaced */
	hotadd_init(&h, "lin", VK_POINTER, "/dev/input/event9", NULL, false);
	reply(&h, DUP);
	reply(&h, "{\"return\": \"/dev/input/event9\"}");
	CHECK_INT(h.state, HA_DELETE);
	c = hotadd_command(&h, NULL);
	CHECK_STR(c, "{\"execute\":\"object-del\",\"arguments\":{\"id\":\"kvmswitch-lin-pointer\"}}\n");
	free(c);
	reply(&h, "{\"return\": {}}");
	CHECK_INT(h.state, HA_ADD);
	reply(&h, "{\"return\": {}}");
	CHECK_INT(h.state, HA_DONE);

	/* reading another node, or not an input-linux at all: replaced */
	hotadd_init(&h, "lin", VK_POINTER, "/dev/input/event9", NULL, true);
	reply(&h, DUP);
	reply(&h, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Property '.evdev' not found\"}}");
	CHECK_INT(h.state, HA_DELETE);
	reply(&h, "{\"return\": {}}");
	/* a duplicate after the delete is not chased in circles */
	reply(&h, DUP);
	CHECK_INT(h.state, HA_FAILED);
	CHECK(strstr(h.error, "duplicate") != NULL);

	/* QEMU cannot open the node: failed, with QEMU's words */
	hotadd_init(&h, "lin", VK_KEYBOARD, "/dev/input/event8", NULL, false);
	reply(&h, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Could not open '/dev/input/event8': "
		  "Permission denied\"}}");
	CHECK_INT(h.state, HA_FAILED);
	CHECK_STR(h.error, "Could not open '/dev/input/event8': Permission denied");
}

TEST(hotadd_remove)
{
	struct hotadd h;
	hotadd_init(&h, "lin", VK_TABLET, "/dev/input/event4", NULL, false);
	reply(&h, "{\"return\": {}}");
	hotadd_remove(&h);
	CHECK(!hotadd_settled(&h));
	char *c = hotadd_command(&h, NULL);
	CHECK_STR(c, "{\"execute\":\"object-del\",\"arguments\":{\"id\":\"kvmswitch-lin-tablet\"}}\n");
	free(c);
	reply(&h, "{\"return\": {}}");
	CHECK_INT(h.state, HA_REMOVED);
	CHECK_STR(h.error, "");
	/* already gone (QEMU restarted meanwhile): removed all the same */
	hotadd_remove(&h);
	reply(&h, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"object 'kvmswitch-lin-tablet' not found\"}}");
	CHECK_INT(h.state, HA_REMOVED);
	CHECK_STR(h.error, "");
}
