build/obj/proto/err.o: proto/err.c proto/err.h
proto/err.h:
