package transfer.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A private certificate authority kept in a directory: its certificate ({@code ca.pem}, what a
 * client trusts) and its key ({@code ca-key.pem}, readable by its owner only), made on first use
 * and reused after, so a data directory's certificates stay valid across restarts. It issues server
 * certificates for names and loopback addresses, also the bad ones tests need (expired, for another
 * host), and writes them as PEM: the private key (PKCS#8, unencrypted) followed by the chain, the
 * form Kafka ({@code ssl.keystore.type=PEM}) and Vert.x ({@code PemKeyCertOptions}) read.
 */
public final class LocalCa {
  private static final String CA_CERT = "ca.pem";
  private static final String CA_KEY = "ca-key.pem";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path dir;
  private final X509Certificate certificate;
  private final PrivateKey key;

  private LocalCa(Path dir, X509Certificate certificate, PrivateKey key) {
    this.dir = dir;
    this.certificate = certificate;
    this.key = key;
  }

  /** The authority in {@code dir}, made there (valid ten years) when it holds none yet. */
  public static synchronized LocalCa openOrCreate(Path dir, String name) {
    try {
      Files.createDirectories(dir);
      Path cert = dir.resolve(CA_CERT);
      Path keyFile = dir.resolve(CA_KEY);
      if (Files.exists(cert) && Files.exists(keyFile)) {
        return new LocalCa(dir, readCertificates(cert).get(0), readKey(keyFile));
      }
      KeyPair pair = newKeyPair();
      Instant now = Instant.now();
      X500Name subject = new X500Name("CN=" + name);
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              subject,
              serial(),
              Date.from(now.minus(Duration.ofHours(1))),
              Date.from(now.plus(Duration.ofDays(3650))),
              subject,
              pair.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
      b.addExtension(
          Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      b.addExtension(
          Extension.subjectKeyIdentifier,
          false,
          new JcaX509ExtensionUtils().createSubjectKeyIdentifier(pair.getPublic()));
      X509Certificate ca = sign(b, pair.getPrivate());
      Secrets.writeOwnerOnly(keyFile, pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
      Files.writeString(cert, pem("CERTIFICATE", ca.getEncoded()));
      return new LocalCa(dir, ca, pair.getPrivate());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot keep a certificate authority in " + dir, e);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot make a certificate authority in " + dir, e);
    }
  }

  /** The authority's certificate, PEM: what a client trusts. */
  public Path certificatePem() {
    return dir.resolve(CA_CERT);
  }

  /** The authority's certificate as PEM text. */
  public String certificatePemText() {
    try {
      return pem("CERTIFICATE", certificate.getEncoded());
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /**
   * A server certificate for {@code names} (DNS names, or IP literals such as {@code 127.0.0.1}),
   * valid from {@code notBefore} to {@code notAfter}, signed by this authority.
   */
  public Issued issue(List<String> names, Instant notBefore, Instant notAfter) {
    try {
      KeyPair pair = newKeyPair();
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              certificate,
              serial(),
              Date.from(notBefore),
              Date.from(notAfter),
              new javax.security.auth.x500.X500Principal("CN=" + names.get(0)),
              pair.getPublic());
      b.addExtension(Extension.subjectAlternativeName, false, alternativeNames(names));
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(
          Extension.keyUsage,
          true,
          new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment));
      b.addExtension(
          Extension.extendedKeyUsage,
          false,
          new ExtendedKeyUsage(
              new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
      b.addExtension(
          Extension.authorityKeyIdentifier, false, utils.createAuthorityKeyIdentifier(certificate));
      b.addExtension(
          Extension.subjectKeyIdentifier,
          false,
          utils.createSubjectKeyIdentifier(pair.getPublic()));
      return new Issued(sign(b, key), certificate, pair.getPrivate());
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot issue a certificate for " + names, e);
    }
  }

  /** A server certificate for {@code names}, valid from an hour ago for {@code validity}. */
  public Issued issue(List<String> names, Duration validity) {
    Instant now = Instant.now();
    return issue(names, now.minus(Duration.ofHours(1)), now.plus(validity));
  }

  /**
   * A certificate, the authority's that signed it, and its private key. A self-signed certificate
   * ({@link #selfSigned}) has itself as its authority.
   */
  public record Issued(X509Certificate certificate, X509Certificate authority, PrivateKey key) {
    /** The private key, PEM (PKCS#8, unencrypted). */
    public String keyPem() {
      return pem("PRIVATE KEY", key.getEncoded());
    }

    /** The certificate followed by its authority's (unless self-signed), PEM. */
    public String chainPem() {
      try {
        String chain = pem("CERTIFICATE", certificate.getEncoded());
        return authority.equals(certificate)
            ? chain
            : chain + pem("CERTIFICATE", authority.getEncoded());
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    }

    /** The key and the chain in one PEM file (owner-only): Kafka's and Vert.x's key store. */
    public Path writeKeyAndChain(Path file) {
      try {
        Secrets.writeOwnerOnly(file, keyPem() + chainPem());
        return file;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + file, e);
      }
    }

    /**
     * The key and the chain in a PKCS#12 key store (owner-only), for servers that read no PEM
     * (Jetty's, in S3Proxy).
     */
    public Path writePkcs12(Path file, String password) {
      try {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        java.security.cert.Certificate[] chain =
            authority.equals(certificate)
                ? new java.security.cert.Certificate[] {certificate}
                : new java.security.cert.Certificate[] {certificate, authority};
        store.setKeyEntry("server", key, password.toCharArray(), chain);
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        store.store(bytes, password.toCharArray());
        Secrets.writeOwnerOnly(file, bytes.toByteArray());
        return file;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + file, e);
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    }

    /** The certificate alone, PEM (what a client pins or trusts). */
    public Path writeCertificate(Path file) {
      try {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, pem("CERTIFICATE", certificate.getEncoded()));
        return file;
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + file, e);
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /** A certificate for {@code names} that no authority signed: its own issuer. */
  public static Issued selfSigned(List<String> names, Duration validity) {
    try {
      KeyPair pair = newKeyPair();
      Instant now = Instant.now();
      X500Name subject = new X500Name("CN=" + names.get(0));
      X509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              subject,
              serial(),
              Date.from(now.minus(Duration.ofHours(1))),
              Date.from(now.plus(validity)),
              subject,
              pair.getPublic());
      b.addExtension(Extension.subjectAlternativeName, false, alternativeNames(names));
      X509Certificate cert = sign(b, pair.getPrivate());
      return new Issued(cert, cert, pair.getPrivate());
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot make a self-signed certificate for " + names, e);
    }
  }

  // ---------------------------------------------------------------- PEM and keys

  private static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
    g.initialize(2048, RANDOM);
    return g.generateKeyPair();
  }

  private static BigInteger serial() {
    return new BigInteger(64, RANDOM).add(BigInteger.ONE);
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
      throws GeneralSecurityException {
    try {
      return new JcaX509CertificateConverter()
          .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withRSA").build(signer)));
    } catch (OperatorCreationException e) {
      throw new GeneralSecurityException(e);
    }
  }

  /** The subject alternative names: each a DNS name, or an IP address for a literal. */
  private static GeneralNames alternativeNames(List<String> names) {
    List<GeneralName> alternatives = new ArrayList<>();
    for (String n : names) {
      alternatives.add(
          isIpLiteral(n)
              ? new GeneralName(GeneralName.iPAddress, n)
              : new GeneralName(GeneralName.dNSName, n));
    }
    return new GeneralNames(alternatives.toArray(GeneralName[]::new));
  }

  private static boolean isIpLiteral(String name) {
    if (!name.matches("[0-9.]+|.*:.*")) {
      return false;
    }
    try {
      InetAddress.getByName(name); // a literal: no lookup
      return true;
    } catch (UnknownHostException e) {
      return false;
    }
  }

  static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }

  private static List<X509Certificate> readCertificates(Path file)
      throws IOException, GeneralSecurityException {
    try (var in = Files.newInputStream(file)) {
      return CertificateFactory.getInstance("X.509").generateCertificates(in).stream()
          .map(X509Certificate.class::cast)
          .toList();
    }
  }

  private static PrivateKey readKey(Path file) throws IOException, GeneralSecurityException {
    String text = Files.readString(file);
    String base64 =
        text.replace("-----BEGIN PRIVATE KEY-----", "")
            .replace("-----END PRIVATE KEY-----", "")
            .replaceAll("\\s", "");
    return KeyFactory.getInstance("RSA")
        .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(base64)));
  }
}
