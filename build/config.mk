PKG_CFLAGS := -isystem /usr/include/mit-krb5 -I/usr/include/pgm-5.3 -I/usr/include/libxml2 
PKG_LIBS := -lsodium -lzmq -lprotobuf-c -llmdb 
CMOCKA_LIBS := -lcmocka 
