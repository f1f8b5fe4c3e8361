//! A clustered mail machine: the MTA and the cluster agent on one host, as in
//! the Fused mail cluster of December 2018 (Fused, "mail system down"
//! incident report, 31 Dec 2018,
//! <https://www.fusedstatus.com/incidents/5fh5cmfdh868>), where every
//! cluster member could run the SMTP, POP and IMAP services and the cluster
//! manager decided which one did.
//!
//! The kernel sees one node; inside it, inputs go to the component they
//! belong to — by message variant (cluster traffic to the agent, mail and
//! mailstore traffic to the MTA) and by timer (`Timer::Cluster`
//! vs `Timer::Mta`). After every agent event the MTA is told whether it may
//! accept mail (`set_accepting`), so a machine that does not hold the mail
//! services answers SMTP with a temporary failure, and a probe of it fails.
//!
//! A failed local device of the MTA (its queue disk, `local-device-failure`)
//! is the agent's news as well: the machine can no longer run the mail
//! services, and the cluster fails them over (`Agent::set_failed`).
//!
//! Mailbox accesses (POP, IMAP, webmail) reach the machine through the vip
//! when clients are pointed at it; the machine relays them to the mailstore
//! while it runs the services and answers `Refused` otherwise (no POP, IMAP
//! or webmail server runs there) — so in the Fused replay POP and IMAP are
//! down exactly while no node holds the services.

use mailsim_sim::{Ctx, Disk, Input, Node, NodeId};

use crate::cluster::{Agent, AgentConfig};
use crate::msg::{Action, MailboxId, Msg, Ops, Proto, Store, StoreError};
use crate::mta::{Mta, MtaConfig, QueueDisk};
use crate::timer::Timer;
use crate::World;

/// An MTA and a cluster agent sharing one machine (and its queue disk).
pub struct ClusterNode {
    /// The machine's MTA; it accepts mail only while the agent runs the
    /// mail services.
    pub mta: Mta,
    /// The machine's cluster agent.
    pub agent: Agent,
    /// The mailstore that mailbox accesses are relayed to.
    mailstore: Option<NodeId>,
    /// Mailbox accesses relayed and not yet answered: (mailbox, proto, asker).
    access: Vec<(MailboxId, Proto, NodeId)>,
}

impl ClusterNode {
    /// Builds the machine (at boot, from its durable queue).
    pub fn new(mta: MtaConfig, agent: AgentConfig, mailstore: Option<NodeId>, disk: &QueueDisk) -> ClusterNode {
        ClusterNode { mta: Mta::new(mta, disk), agent: Agent::new(agent), mailstore, access: Vec::new() }
    }

    fn agent_input(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>) {
        self.agent.on_input(input, ctx);
        self.mta.set_accepting(self.agent.runs_services());
    }

    fn mailbox_access(&mut self, from: NodeId, mailbox: MailboxId, proto: Proto, ctx: &mut Ctx<'_, Msg, World>) {
        match self.mailstore {
            Some(store) if self.agent.runs_services() => {
                self.access.push((mailbox, proto, from));
                ctx.send(store, Msg::Store(Store::Access { mailbox, proto }));
            }
            _ => ctx.send(from, Msg::Store(Store::AccessReply { mailbox, proto, result: Err(StoreError::Refused) })),
        }
    }

    fn access_done(&mut self, mailbox: MailboxId, proto: Proto) -> Option<NodeId> {
        let pos = self.access.iter().position(|a| a.0 == mailbox && a.1 == proto)?;
        Some(self.access.remove(pos).2)
    }
}

impl Node<Msg, World> for ClusterNode {
    type Disk = QueueDisk;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        match input {
            Input::Start => {
                self.mta.handle(Input::Start, ctx, disk);
                self.agent_input(Input::Start, ctx);
            }
            Input::Timer { id, tag } if matches!(Timer::from_tag(tag), Some(Timer::Cluster(_))) => {
                self.agent_input(Input::Timer { id, tag }, ctx)
            }
            peer @ Input::Peer { .. } => self.agent_input(peer, ctx),
            Input::Message { from, msg } => match msg {
                Msg::Cluster(c) => self.agent_input(Input::Message { from, msg: Msg::Cluster(c) }, ctx),
                Msg::Ops(Ops::Command { step, action: action @ (Action::ResetCluster | Action::Standby | Action::Unstandby) }) => {
                    self.agent_input(Input::Message { from, msg: Msg::Ops(Ops::Command { step, action }) }, ctx)
                }
                Msg::Store(Store::Access { mailbox, proto }) => self.mailbox_access(from, mailbox, proto, ctx),
                Msg::Store(Store::AccessReply { mailbox, proto, result }) => {
                    if let Some(asker) = self.access_done(mailbox, proto) {
                        ctx.send(asker, Msg::Store(Store::AccessReply { mailbox, proto, result }));
                    }
                }
                msg => self.mta.handle(Input::Message { from, msg }, ctx, disk),
            },
            Input::Refused { to, msg } => match msg {
                Msg::Cluster(c) => self.agent_input(Input::Refused { to, msg: Msg::Cluster(c) }, ctx),
                Msg::Store(Store::Access { mailbox, proto }) => {
                    if let Some(asker) = self.access_done(mailbox, proto) {
                        ctx.send(asker, Msg::Store(Store::AccessReply { mailbox, proto, result: Err(StoreError::Offline) }));
                    }
                }
                msg => self.mta.handle(Input::Refused { to, msg }, ctx, disk),
            },
            other => self.mta.handle(other, ctx, disk),
        }
        // A failed (or replaced) local device of the MTA's is the agent's
        // news too: the services cannot run here (`Agent::set_failed`).
        if self.mta.device_failed() != self.agent.failed() {
            self.agent.set_failed(self.mta.device_failed(), ctx);
            self.mta.set_accepting(self.agent.runs_services());
        }
    }
}
