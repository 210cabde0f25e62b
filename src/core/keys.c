#include "core/keys.h"

const char *vkind_name(enum vkind kind)
{
	switch (kind) {
	case VK_KEYBOARD:
		return "keyboard";
	case VK_POINTER:
		return "pointer";
	case VK_TABLET:
		return "tablet";
	case VK_COUNT:
		break;
	}
	return "?";
}

bool keyset_empty(const struct keyset *s)
{
	for (size_t i = 0; i < sizeof(s->bits) / sizeof(s->bits[0]); i++)
		if (s->bits[i])
			return false;
	return true;
}

size_t keyset_count(const struct keyset *s)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(s->bits) / sizeof(s->bits[0]); i++)
		n += (size_t)__builtin_popcountll(s->bits[i]);
	return n;
}
