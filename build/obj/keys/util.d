build/obj/keys/util.o: keys/util.c keys/util.h proto/err.h
keys/util.h:
proto/err.h:
