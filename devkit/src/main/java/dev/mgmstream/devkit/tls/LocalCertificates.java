package dev.mgmstream.devkit.tls;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A self-signed server certificate for a local TLS listener (the in-process broker's SASL_SSL listener, the
 * in-process registry's HTTPS) and a trust store holding it, made with the JDK's own keytool, valid two days.
 * For tests and local runs only: nothing a deployment should use.
 *
 * @param keyStore   PKCS12 with the private key and certificate, alias {@code server}
 * @param trustStore PKCS12 with the certificate alone, for the clients
 * @param password   of both stores and of the key
 */
public record LocalCertificates(Path keyStore, Path trustStore, String password) {

    /**
     * Writes {@code server.p12} and {@code trust.p12} into {@code dir} for a certificate whose subject
     * alternative names are {@code san} (keytool's syntax, e.g. {@code dns:localhost,ip:127.0.0.1}).
     */
    public static LocalCertificates create(Path dir, String commonName, String san, String password)
            throws IOException, InterruptedException {
        Path keys = dir.resolve("server.p12");
        Path cert = dir.resolve("server.crt");
        Path trust = dir.resolve("trust.p12");
        keytool("-genkeypair", "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                "-dname", "CN=" + commonName, "-ext", "SAN=" + san, "-storetype", "PKCS12",
                "-keystore", keys.toString(), "-storepass", password, "-keypass", password);
        keytool("-exportcert", "-rfc", "-alias", "server", "-keystore", keys.toString(), "-storepass", password,
                "-file", cert.toString());
        keytool("-importcert", "-noprompt", "-alias", "server", "-file", cert.toString(), "-storetype", "PKCS12",
                "-keystore", trust.toString(), "-storepass", password);
        return new LocalCertificates(keys, trust, password);
    }

    private static void keytool(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IOException("keytool " + args[0] + " failed: " + out);
        }
    }
}
