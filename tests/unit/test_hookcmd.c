/* The program a hook command starts, as kvmswitch check looks for it. */
#include "core/hookcmd.h"
#include "test.h"

TEST(hookcmd_program)
{
	static const struct {
		const char *cmd;
		int rc;
		const char *program;
	} cases[] = {
		{ "ddcutil setvcp 60 0x0f", 1, "ddcutil" },
		{ "  /usr/local/bin/monitor-input\t2", 1, "/usr/local/bin/monitor-input" },
		{ "LANG=C DISPLAY=:0 notify-send switched", 1, "notify-send" },
		{ "exec ddcutil setvcp 60 0x11", 1, "ddcutil" },
		{ "command -v x", 0, NULL },
		{ "sleep 600 & sleep 500", 1, "sleep" },
		{ "echo \"$KVMSWITCH_TARGET\" >> /tmp/log", 0, NULL },
		{ "if true; then x; fi", 0, NULL },
		{ "kill -9 $$", 0, NULL },
		{ "\"/opt/my tools/switch\" a", 0, NULL },
		{ "$HOME/bin/switch", 0, NULL },
		{ "~/bin/switch", 0, NULL },
		{ "(cd /tmp && x)", 0, NULL },
		{ "x;y", 0, NULL },
		{ "A=\"x y\" prog", 0, NULL },
		{ "", 0, NULL },
		{ "A=1", 0, NULL },
		{ ": nothing", 0, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64] = "";
		int rc = hookcmd_program(cases[i].cmd, out, sizeof(out));
		if (rc != cases[i].rc || (cases[i].program && strcmp(out, cases[i].program))) {
			test_fail(__FILE__, __LINE__, "'%s': %d '%s', expected %d '%s'", cases[i].cmd, rc, out, cases[i].rc,
				  cases[i].program ? cases[i].program : "");
			return;
		}
	}
	char small[4];
	CHECK_INT(hookcmd_program("ddcutil", small, sizeof(small)), -1);
	CHECK_INT(hookcmd_program("ddc", small, sizeof(small)), 1);
	CHECK_STR(small, "ddc");
}
