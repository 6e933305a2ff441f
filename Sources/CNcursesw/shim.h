// Thin shim over ncursesw. SwiftPM drops -D_XOPEN_SOURCE from pkg-config, so the wide-character
// API is switched on here; attribute macros and globals Swift 6 rejects get accessor functions.
#ifndef PLEURA_CNCURSESW_SHIM_H
#define PLEURA_CNCURSESW_SHIM_H
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>
static inline int pleura_a_bold(void) { return A_BOLD; }
static inline int pleura_a_reverse(void) { return A_REVERSE; }
static inline int pleura_a_dim(void) { return A_DIM; }
static inline int pleura_a_underline(void) { return A_UNDERLINE; }
static inline int pleura_color_pair(int n) { return COLOR_PAIR(n); }
static inline int pleura_lines(void) { return LINES; }
static inline int pleura_cols(void) { return COLS; }
static inline WINDOW *pleura_stdscr(void) { return stdscr; }
// wcwidth is declared only under _XOPEN_SOURCE, which SwiftPM drops: declare it here.
extern int wcwidth(wchar_t);
static inline int pleura_wcwidth(unsigned int c) { return wcwidth((wchar_t)c); }
#endif
