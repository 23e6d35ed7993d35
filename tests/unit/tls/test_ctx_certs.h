/* SPDX-License-Identifier: MIT */
/*
 * test_ctx_certs.h - throw-away PKI for the tls unit tests, made with the
 * openssl command line in a fresh temporary directory: a root CA, an
 * intermediate, RSA and ECDSA server leaves, a client leaf, an expired
 * leaf, and the file layouts users bring (DER, PKCS#12, PKCS#7, a
 * passphrase-protected key).
 */
#ifndef TEST_CTX_CERTS_H
#define TEST_CTX_CERTS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char certdir[256];

static const char certs_script[] =
    "set -e\n"
    "exec >gen.log 2>&1\n"
    "cat >ca.ext <<E\n"
    "basicConstraints=critical,CA:true\n"
    "keyUsage=critical,keyCertSign,cRLSign\n"
    "subjectKeyIdentifier=hash\n"
    "E\n"
    "cat >srv.ext <<E\n"
    "basicConstraints=CA:false\n"
    "keyUsage=critical,digitalSignature,keyEncipherment\n"
    "extendedKeyUsage=serverAuth,clientAuth\n"
    "subjectAltName=DNS:mx.example.org,DNS:*.mail.example.org\n"
    "E\n"
    "cat >cli.ext <<E\n"
    "basicConstraints=CA:false\n"
    "keyUsage=critical,digitalSignature\n"
    "extendedKeyUsage=clientAuth\n"
    "E\n"
    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem "
    "-days 30 -subj '/CN=Postern Test Root' -addext "
    "basicConstraints=critical,CA:true\n"
    "openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr "
    "-subj '/O=Postern Test/CN=Postern Test Intermediate'\n"
    "openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
    "-out int.pem -days 30 -extfile ca.ext\n"
    /* RSA server leaf signed by the root */
    "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
    "-subj '/CN=mx.example.org'\n"
    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
    "-out srv.pem -days 30 -extfile srv.ext\n"
    /* ECDSA server leaf signed by the intermediate */
    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
    "-keyout ec.key -out ec.csr -subj '/CN=mx.example.org'\n"
    "openssl x509 -req -in ec.csr -CA int.pem -CAkey int.key "
    "-CAcreateserial -out ec.pem -days 30 -extfile srv.ext\n"
    /* client leaf, RSA, signed by the root */
    "openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr "
    "-subj '/CN=client.example.org'\n"
    "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
    "-out cli.pem -days 30 -extfile cli.ext\n"
    /* expired leaf: valid for one day, ten days ago */
    "faketime -f -10d openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
    "-CAcreateserial -out expired.pem -days 1 -extfile srv.ext\n"
    /* layouts */
    "cat ec.pem int.pem ec.key >combo.pem\n"
    "cat srv.key srv.pem ec.key ec.pem int.pem >chain.pem\n"
    "cp srv.key open.key\n"
    "openssl pkey -in srv.key -aes256 -passout pass:secret -out enc.key\n"
    "openssl x509 -in srv.pem -outform der -out srv.der\n"
    "openssl pkey -in srv.key -outform der -out srvkey.der\n"
    "openssl pkcs12 -export -passout pass: -in srv.pem -inkey srv.key "
    "-out srv.p12\n"
    "openssl crl2pkcs7 -nocrl -certfile srv.pem -out srv.p7b\n"
    "openssl crl2pkcs7 -nocrl -certfile srv.pem -outform der -out srvder.p7b\n"
    "mkdir capath && cp ca.pem capath/ && openssl rehash capath\n"
    /* TLSA association data, computed by openssl alone */
    "openssl x509 -in srv.pem -noout -pubkey | openssl pkey -pubin "
    "-outform DER >srv.spki\n"
    "openssl dgst -sha256 -binary srv.spki >srv.spki256\n"
    "openssl dgst -sha512 -binary srv.spki >srv.spki512\n"
    "openssl x509 -in srv.pem -outform DER | openssl dgst -sha256 -binary "
    ">srv.cert256\n"
    "openssl x509 -in int.pem -noout -pubkey | openssl pkey -pubin "
    "-outform DER | openssl dgst -sha256 -binary >int.spki256\n"
    "cat ec.pem int.pem >ecchain.pem\n"
    "chmod 600 *.key combo.pem chain.pem\n"
    "chmod 644 open.key\n";

/* certs_make - generate everything once into a temporary directory */
static int certs_make(void)
{
        char cmd[512];
        FILE *fp;

        if (certdir[0])
                return 0;
        snprintf(certdir, sizeof(certdir), "/tmp/postern-tls-test-XXXXXX");
        if (mkdtemp(certdir) == NULL)
                return -1;
        snprintf(cmd, sizeof(cmd), "cd %s && sh ./gen.sh", certdir);
        char path[300];
        snprintf(path, sizeof(path), "%s/gen.sh", certdir);
        fp = fopen(path, "w");
        if (fp == NULL)
                return -1;
        fputs(certs_script, fp);
        fclose(fp);
        if (system(cmd) != 0) {
                snprintf(cmd, sizeof(cmd), "cat %s/gen.log >&2", certdir);
                (void)system(cmd);
                return -1;
        }
        return 0;
}

/* certs_remove - delete the directory */
static void certs_remove(void)
{
        char cmd[300];

        if (certdir[0] == 0)
                return;
        snprintf(cmd, sizeof(cmd), "rm -rf %s", certdir);
        (void)system(cmd);
        certdir[0] = 0;
}

/* P - path of a file in the directory (rotating static buffers) */
__attribute__((unused)) static const char *P(const char *name)
{
        static char buf[8][300];
        static int k;

        k = (k + 1) % 8;
        snprintf(buf[k], sizeof(buf[k]), "%s/%s", certdir, name);
        return buf[k];
}

/* cmd_output - first line of a shell command's output, after "=" if any */
__attribute__((unused)) static char *cmd_output(const char *cmd, bool after_eq)
{
        char line[1024] = "";
        FILE *fp = popen(cmd, "r");

        if (fp == NULL)
                return NULL;
        if (fgets(line, sizeof(line), fp) == NULL)
                line[0] = 0;
        pclose(fp);
        line[strcspn(line, "\r\n")] = 0;
        char *p = line;
        if (after_eq && strchr(p, '='))
                p = strrchr(p, '=') + 1;
        while (*p == ' ')
                p++;
        return strdup(p);
}

#endif
