//! keepalived.conf import (in progress).
