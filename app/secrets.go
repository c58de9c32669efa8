package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"

	"idem/registry/exchange"
	"idem/registry/secret"
	"idem/registry/sqlstore"
)

// keyring loads the key that seals stored credentials (IDEM_SECRET_KEY,
// or IDEM_SECRET_KEY_FILE) and the older keys still accepted for reading
// (IDEM_SECRET_KEY_OLD). Without a configured key a SQLite database gets
// one generated into a file beside it (0600) on first start; PostgreSQL,
// which several instances share, gets none (nil): startExchangeSecrets
// then refuses to start once secrets are stored.
func (cfg *Config) keyring(log *slog.Logger) (*secret.Keyring, error) {
	current, err := cfg.currentKey(log)
	if err != nil {
		return nil, err
	}
	var old [][]byte
	for _, s := range strings.Split(cfg.SecretKeyOld, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		k, err := secret.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("IDEM_SECRET_KEY_OLD: %w", err)
		}
		old = append(old, k)
	}
	if current == nil {
		if len(old) > 0 {
			return nil, errors.New("IDEM_SECRET_KEY_OLD is set but no current key (IDEM_SECRET_KEY or IDEM_SECRET_KEY_FILE)")
		}
		return nil, nil
	}
	return secret.NewKeyring(current, old...)
}

func (cfg *Config) currentKey(log *slog.Logger) ([]byte, error) {
	switch {
	case cfg.SecretKey != "" && cfg.SecretKeyFile != "":
		return nil, errors.New("set IDEM_SECRET_KEY or IDEM_SECRET_KEY_FILE, not both")
	case cfg.SecretKey != "":
		k, err := secret.ParseKey(cfg.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("IDEM_SECRET_KEY: %w", err)
		}
		return k, nil
	case cfg.SecretKeyFile != "":
		return readKeyFile(cfg.SecretKeyFile, "IDEM_SECRET_KEY_FILE", log)
	case sqlstore.IsPostgres(cfg.DB):
		return nil, nil
	}
	path := keyFileBeside(cfg.DB)
	if path == "" { // an in-memory database: its secrets live as long as the process
		return secret.NewKey()
	}
	k, err := readKeyFile(path, "secret key file", log)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	if k, err = secret.NewKey(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process made it first
		return readKeyFile(path, "secret key file", log)
	}
	if err != nil {
		return nil, fmt.Errorf("secret key file: %w", err)
	}
	_, err = io.WriteString(f, secret.EncodeKey(k)+"\n")
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	log.Info("generated the key that seals stored credentials; keep it with the database's backups, without it they cannot be read",
		"file", path, "key_id", secret.KeyID(k))
	return k, nil
}

// keyFileBeside is the default key file of a SQLite database: its path
// with ".key" appended ("" for an in-memory database).
func keyFileBeside(dsn string) string {
	path := strings.TrimPrefix(dsn, "file:")
	path, query, _ := strings.Cut(path, "?")
	if path == "" || path == ":memory:" || strings.Contains(query, "mode=memory") {
		return ""
	}
	return path + ".key"
}

// readKeyFile reads a key file; one readable by others is used, with a
// warning.
func readKeyFile(path, what string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the secret key file is readable by other users; chmod 600 it", "file", path, "mode", st.Mode().Perm().String())
	}
	k, err := secret.ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	return k, nil
}

// prepareSecrets runs before serving: every stored secret must open with
// the configured keys (a missing or wrong key stops the start with the
// key id it needs, instead of failing each pull and delivery), and those
// still in plain text are sealed.
func prepareSecrets(ctx context.Context, cfg Config, ex *exchange.Service, ring *secret.Keyring, log *slog.Logger) error {
	sealed, plain, err := ex.CheckSecrets(ctx)
	if ring == nil && sealed+plain > 0 {
		return fmt.Errorf("this database holds %d stored credentials (peer tokens, keys, subscription headers) but no secret key is configured: "+
			"set IDEM_SECRET_KEY (base64 of 32 bytes; `idem secrets keygen` makes one), the same on every instance, or IDEM_SECRET_KEY_FILE", sealed+plain)
	}
	if err != nil {
		return fmt.Errorf("stored credentials: %w", err)
	}
	if plain > 0 {
		n, err := ex.SealStored(ctx)
		if err != nil {
			return fmt.Errorf("sealing stored credentials: %w", err)
		}
		log.Info("sealed credentials stored in plain text", "count", n, "key_id", ring.Current())
	}
	return nil
}

// secretsCommand is `idem secrets keygen` (print a new key) and `idem
// secrets rotate` (seal every stored secret under IDEM_SECRET_KEY,
// opening them with it or IDEM_SECRET_KEY_OLD).
func secretsCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "keygen":
		k, err := secret.NewKey()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret.EncodeKey(k))
		return nil
	case "rotate":
		if err := commandFlags("secrets rotate", &cfg, args, stderr, nil); err != nil {
			return err
		}
		return rotateSecrets(ctx, cfg, stdout, stderr)
	}
	return errors.New("usage: idem secrets keygen | rotate (with IDEM_SECRET_KEY the new key and IDEM_SECRET_KEY_OLD the old ones)")
}

func rotateSecrets(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log, err := cfg.logger(stderr)
	if err != nil {
		return err
	}
	ring, err := cfg.keyring(log)
	if err != nil {
		return err
	}
	if ring == nil {
		return errors.New("rotate needs the new key as IDEM_SECRET_KEY or IDEM_SECRET_KEY_FILE")
	}
	return withStore(ctx, cfg, stderr, func(o *opened) error {
		ex := exchange.New(storeDB{o.store}, o.svc, exchange.Config{Postgres: sqlstore.IsPostgres(cfg.DB), Secrets: ring}, log)
		sealed, err := ex.SealStored(ctx)
		if err != nil {
			return err
		}
		n, err := ex.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "sealed %d plain and re-sealed %d stored credentials under key %s\n", sealed, n, ring.Current())
		return nil
	})
}
