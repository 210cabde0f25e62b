#include "core/hookcmd.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* Words a POSIX shell runs itself (special and regular builtins that hooks
 * might use) or reads as syntax. */
static const char *const shell_words[] = {
	"!", ".", ":", "[", "[[", "{", "}", "alias", "bg", "break", "case", "cd", "continue", "do", "done",
	"elif", "else", "esac", "eval", "exit", "export", "false", "fg", "fi", "for", "function", "getopts",
	"hash", "if", "in", "jobs", "kill", "local", "printf", "pwd", "read", "readonly", "return", "select",
	"set", "shift", "test", "then", "time", "times", "trap", "true", "type", "ulimit", "umask", "unalias",
	"unset", "until", "wait", "while", "echo",
};

/* Characters that make a word something only the shell can expand. */
#define SHELL_SYNTAX "\"'\\$`(){}<>|&;*?[]~#="

static bool is_assignment(const char *w, size_t n)
{
	if (!n || !(isalpha((unsigned char)w[0]) || w[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (w[i] == '=')
			return true;
		if (!isalnum((unsigned char)w[i]) && w[i] != '_')
			return false;
	}
	return false;
}

static bool word_is(const char *w, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(w, s, n) == 0;
}

int hookcmd_program(const char *cmd, char *out, size_t len)
{
	const char *p = cmd;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *w = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		size_t n = (size_t)(p - w);
		if (!n)
			return 0;
		if (is_assignment(w, n))
			continue; /* VAR=value before the command; a value with syntax in it is the shell's */
		if (word_is(w, n, "exec") || word_is(w, n, "command"))
			continue;
		for (size_t i = 0; i < n; i++)
			if (strchr(SHELL_SYNTAX, w[i]))
				return 0;
		if (w[0] == '-')
			return 0; /* an option of exec or command */
		for (size_t i = 0; i < sizeof(shell_words) / sizeof(shell_words[0]); i++)
			if (word_is(w, n, shell_words[i]))
				return 0;
		if (n >= len)
			return -1;
		memcpy(out, w, n);
		out[n] = '\0';
		return 1;
	}
}
