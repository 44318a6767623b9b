build/obj/keys/armor.o: keys/armor.c keys/armor.h proto/err.h
keys/armor.h:
proto/err.h:
