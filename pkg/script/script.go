package script

// Kind is a script command.
type Kind int

const (
	JoinServer Kind = iota
	KillServer
	JoinClient
	BreakConnection
	CreateConnection
	Stabilize
	PrintStore
	Put
	Get
)

// Command is one parsed script line.
type Command struct {
	Line int    // 1-based line number in the script
	Text string // the line with leading and trailing blank space removed
	Kind Kind
	// IDs are the numeric arguments in the order they appear: joinServer ID;
	// killServer ID; joinClient CID SID; breakConnection A B;
	// createConnection A B; printStore SID; put CID; get CID.
	IDs []uint32
	// Key and Value of put and get (Value for put only), unquoted.
	Key, Value []byte
}
