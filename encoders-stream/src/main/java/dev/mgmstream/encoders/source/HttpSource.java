package dev.mgmstream.encoders.source;

import dev.mgmstream.model.vision.ImageRejectedException;
import dev.mgmstream.model.vision.ImageRejectedException.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * {@code http:} and {@code https:} URIs: off unless enabled, then only for hosts on an allow-list
 * (exact names, or {@code *.example.com} for its subdomains), with connect and overall timeouts, a byte
 * cap, no redirects (a redirect could lead anywhere), and no connection to loopback, private, link-local,
 * unique-local, wildcard or multicast addresses unless configured, so that a task cannot make the stage
 * probe the network it runs in.
 *
 * <p>What the server answers decides between the task's fault and the server's: 404 and 410 reject the task as
 * not found, any other 3xx or 4xx as not fetched, with the status in the reason; a timeout, a connection that
 * fails, 408, 429 and 5xx are {@link TransientSourceException}s, so the batch waits and tries again rather
 * than rejecting a good task because a server was busy for a minute. A host name that does not resolve is a
 * rejection: with a wildcard on the allow-list it is as likely a task's typo as a DNS outage, and retrying a
 * typo would hold the partition forever.
 *
 * <p>The address check resolves the name before the request; the HTTP client resolves it again, so a DNS
 * answer that changes in between could still slip through. The allow-list is the main defence; deployments
 * that need more put the stage behind an egress proxy.
 */
public final class HttpSource implements ImageSource {

    /** Settings; {@code allowedHosts} empty means no host at all. */
    public record Settings(boolean enabled, List<String> allowedHosts, boolean allowPrivate, Duration connectTimeout,
                           Duration timeout) {
        public Settings {
            allowedHosts = allowedHosts.stream().map(h -> h.trim().toLowerCase(Locale.ROOT)).filter(h -> !h.isEmpty())
                    .toList();
        }
    }

    private final Settings settings;
    private final HttpClient client;

    public HttpSource(Settings settings) {
        this.settings = settings;
        this.client = HttpClient.newBuilder()
                .connectTimeout(settings.connectTimeout())
                .followRedirects(HttpClient.Redirect.NEVER)
                .build();
    }

    @Override
    public byte[] fetch(URI uri, long maxBytes) throws ImageRejectedException, TransientSourceException {
        if (!settings.enabled()) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "http(s) images are turned off "
                    + "(encoders.source.http.enabled=false)");
        }
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT);
        if (host.isEmpty() || !hostAllowed(host)) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "host '" + host + "' is not on the allow-list "
                    + "(encoders.source.http.allowed.hosts)");
        }
        if (uri.getUserInfo() != null) {
            throw new ImageRejectedException(Reason.NOT_ALLOWED, "credentials in image URLs are refused");
        }
        checkAddresses(host);
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(settings.timeout()).GET().build();
        try {
            HttpResponse<InputStream> response = client.send(request, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = response.body()) {
                int status = response.statusCode();
                if (status == 404 || status == 410) {
                    throw new ImageRejectedException(Reason.NOT_FOUND, "HTTP " + status + " for " + uri);
                }
                if (status / 100 == 3) {
                    throw new ImageRejectedException(Reason.FETCH_FAILED, "HTTP " + status + " for " + uri
                            + ": redirects are not followed");
                }
                if (retriable(status)) {
                    throw new TransientSourceException("HTTP " + status + " for " + uri + ": the server may answer "
                            + "later", null);
                }
                if (status / 100 != 2) {
                    throw new ImageRejectedException(Reason.FETCH_FAILED, "HTTP " + status + " for " + uri);
                }
                long declared = response.headers().firstValueAsLong("content-length").orElse(-1);
                if (declared > maxBytes) {
                    throw new ImageRejectedException(Reason.TOO_MANY_BYTES, uri + " declares " + declared
                            + " bytes, more than the limit of " + maxBytes);
                }
                return Limited.readAll(body, maxBytes, uri.toString());
            }
        } catch (HttpTimeoutException e) {
            throw new TransientSourceException("timed out fetching " + uri + " (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            // A refused or dropped connection says nothing about the task: the server may be restarting.
            throw new TransientSourceException("cannot fetch " + uri + ": " + e, e);
        } catch (InterruptedException e) {
            // The stage is stopping; the task is not at fault and is read again by whoever goes on.
            Thread.currentThread().interrupt();
            throw new TransientSourceException("interrupted fetching " + uri, e);
        }
    }

    /**
     * Answers that say the server cannot serve now rather than that the image is wrong: 408 (request
     * timeout), 429 (too many requests) and every 5xx. Retried with the batch instead of rejecting the task.
     */
    static boolean retriable(int status) {
        return status == 408 || status == 429 || status / 100 == 5;
    }

    private boolean hostAllowed(String host) {
        for (String allowed : settings.allowedHosts()) {
            if (allowed.equals(host) || (allowed.startsWith("*.") && host.endsWith(allowed.substring(1)))) {
                return true;
            }
        }
        return false;
    }

    private void checkAddresses(String host) throws ImageRejectedException {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            throw new ImageRejectedException(Reason.NOT_FOUND, "unknown host " + host);
        }
        if (settings.allowPrivate()) {
            return;
        }
        for (InetAddress a : addresses) {
            String kind = internalKind(a);
            if (kind != null) {
                throw new ImageRejectedException(Reason.NOT_ALLOWED, "host " + host + " resolves to a " + kind
                        + " address (" + a.getHostAddress() + "); set encoders.source.http.allow.private to allow it");
            }
        }
    }

    static String internalKind(InetAddress a) {
        if (a.isLoopbackAddress()) {
            return "loopback";
        }
        if (a.isAnyLocalAddress()) {
            return "wildcard";
        }
        if (a.isLinkLocalAddress()) {
            return "link-local";
        }
        if (a.isSiteLocalAddress()) {
            return "private";
        }
        if (a.isMulticastAddress()) {
            return "multicast";
        }
        byte[] b = a.getAddress();
        if (a instanceof Inet6Address && (b[0] & 0xFE) == 0xFC) {
            return "unique-local";
        }
        if (b.length == 4 && (b[0] & 0xFF) == 100 && (b[1] & 0xC0) == 64) {
            return "carrier-grade NAT";
        }
        return null;
    }
}
