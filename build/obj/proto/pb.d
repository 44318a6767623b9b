build/obj/proto/pb.o: proto/pb.c proto/err.h proto/pb.h \
 build/gen/proto/liaison.pb-c.h
proto/err.h:
proto/pb.h:
build/gen/proto/liaison.pb-c.h:
