/* main.c - the daemon's entry point; everything else lives in libparley.a. */
#include "ircd.h"

int main(int argc, char **argv) { return ircd_main(argc, argv); }
