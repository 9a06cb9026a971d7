package dev.mgmstream.reasoning;

/**
 * A VisualTokens record this stage cannot use at all (unknown model, wrong shape, unreadable payload):
 * the record goes to the dead-letter topic and every task on it gets a rejected Answer with this message.
 */
public class InvalidVisualTokensException extends Exception {

    private static final long serialVersionUID = 1L;

    public InvalidVisualTokensException(String message) {
        super(message);
    }

    public InvalidVisualTokensException(String message, Throwable cause) {
        super(message, cause);
    }
}
