//! Synthetic, bland prompt and completion text. No real people or data.

pub const SUPPORT_SYSTEM: &str = "You are the Acme Cloud Storage support assistant. Answer in three sentences or fewer, in a friendly tone. If you are not sure, offer to open a ticket with a human agent. Never ask for passwords or payment card numbers.";

/// (question, answer) pairs for the support bot.
pub const SUPPORT: &[(&str, &str)] = &[
    (
        "How do I reset my password?",
        "You can reset your password from the sign-in page by choosing \"Forgot password\" and following the link we email you. The link is valid for 30 minutes. If the email does not arrive, check your spam folder or let me open a ticket for you.",
    ),
    (
        "Can I change the email address on my account?",
        "Yes. Go to Settings > Profile, choose \"Change email\" and confirm the new address from the message we send to it. Your files and sharing links are not affected.",
    ),
    (
        "What is the maximum file size I can upload?",
        "On the Standard plan a single file can be up to 50 GB when you use the desktop app, or 5 GB in the browser. Larger files upload faster with the desktop app because it resumes interrupted transfers.",
    ),
    (
        "How do I share a folder with a colleague?",
        "Open the folder, choose Share and enter your colleague's email address. You can pick whether they can view or edit, and you can remove access at any time from the same screen.",
    ),
    (
        "My upload is stuck at 99 percent.",
        "This usually means the last part is still being verified. Please wait a minute and refresh the page; if it is still stuck, pause and resume the upload from the transfers panel.",
    ),
    (
        "How do I cancel my subscription?",
        "You can cancel any time from Settings > Billing > Manage plan. Your plan stays active until the end of the current billing period and your files remain available to download.",
    ),
    (
        "Do you offer a discount for nonprofits?",
        "Yes, registered nonprofits can apply for a 30 percent discount on annual plans. I can open a request for you and our billing team will reply within two business days.",
    ),
    (
        "Why was I charged twice this month?",
        "I'm sorry about that. Sometimes a pending authorization shows next to the real charge and disappears within a few days. If both charges are still there after five days, I can open a ticket with billing for you.",
    ),
    (
        "How do I restore a deleted file?",
        "Deleted files stay in the Trash for 30 days. Open Trash, select the file and choose Restore; it goes back to its original folder.",
    ),
    (
        "Can I use the app offline?",
        "Yes. Mark files or folders as \"Available offline\" in the desktop or mobile app and they will be kept on your device. Changes sync automatically when you reconnect.",
    ),
    (
        "How do I turn on two-step verification?",
        "Go to Settings > Security and choose \"Two-step verification\". You can use an authenticator app or a security key; we recommend saving the backup codes somewhere safe.",
    ),
    (
        "The desktop app will not start on my laptop.",
        "Please try restarting your computer and reinstalling the latest version from our downloads page. If it still does not start, I can open a ticket so an agent can look at the app logs with you.",
    ),
    (
        "How much storage is included in the Team plan?",
        "The Team plan includes 2 TB per user, pooled across the team. Admins can see usage per person in the admin console.",
    ),
    (
        "Is my data encrypted?",
        "Yes. Files are encrypted in transit with TLS and at rest with AES-256. Team and Enterprise plans can also use customer-managed keys.",
    ),
    (
        "How do I download all my files at once?",
        "In the web app, select the folders you want and choose Download; we prepare a zip file for you. For very large accounts the desktop app is the easiest way to sync everything.",
    ),
    (
        "Can I get an invoice with my company's tax number?",
        "Yes. Add your company name and tax number in Settings > Billing > Invoice details, and all future invoices will include them. I can also ask billing to reissue a past invoice.",
    ),
    (
        "What happens to shared links when a file is moved?",
        "Shared links keep working when you move or rename a file. They stop working only if the file is deleted or you turn the link off.",
    ),
    (
        "How do I add a new user to my team?",
        "Admins can invite people from the admin console under Members > Invite. The new member gets an email and is added to the plan once they accept.",
    ),
    (
        "Why is the sync so slow today?",
        "Sync speed depends on your connection and on how many small files are changing. You can check the transfers panel for progress, and pausing other large uploads often helps.",
    ),
    (
        "Can I recover an older version of a document?",
        "Yes. Right-click the file, choose Version history and pick the version you want to restore or download. We keep versions for 90 days on paid plans.",
    ),
    (
        "Where can I find my receipts?",
        "All receipts are in Settings > Billing > Payment history, where you can download each one as a PDF.",
    ),
    (
        "Does the mobile app back up my photos?",
        "Yes, turn on Camera uploads in the mobile app settings. You can choose to upload only on Wi-Fi to save mobile data.",
    ),
    (
        "How do I change the language of the app?",
        "The app follows your device language by default. You can choose a different one in Settings > Preferences > Language.",
    ),
    (
        "Can I password-protect a shared link?",
        "Yes, on paid plans you can set a password and an expiry date for any shared link from the link settings.",
    ),
    (
        "I think someone else signed in to my account.",
        "Please change your password right away and turn on two-step verification. You can sign out all other sessions from Settings > Security, and I can open a ticket so our team can review the account with you.",
    ),
    (
        "How do I move my files to a new account?",
        "The easiest way is to share the folders with your new account and copy them there, or download them and upload them again. An agent can help with larger moves.",
    ),
    (
        "What are your support hours?",
        "Chat support is available around the clock, and our phone line is open on weekdays from 8 am to 8 pm Eastern time.",
    ),
    (
        "Can I upgrade from monthly to yearly billing?",
        "Yes, choose Settings > Billing > Change plan and select yearly. We credit the unused part of your current month automatically.",
    ),
];

pub const SUMMARY_SYSTEM: &str = "Summarize the support ticket for the agent queue in at most two sentences. Mention the product area and whether the customer is waiting on us.";

/// (ticket, summary) pairs for the summarizer.
pub const TICKETS: &[(&str, &str)] = &[
    (
        "Ticket 4821: Customer says the mobile app logs them out every time they switch networks since the last update. They reinstalled the app and cleared the cache without success. They would like a fix before their trip next week.",
        "Mobile app: repeated sign-outs when switching networks after the latest update; reinstall did not help. Customer is waiting on us for a fix.",
    ),
    (
        "Ticket 4822: Customer asks whether the Team plan can be paid by bank transfer instead of card, and whether an annual invoice can be issued in advance.",
        "Billing: customer asks about bank-transfer payment and an advance annual invoice for the Team plan. Waiting on billing to confirm.",
    ),
    (
        "Ticket 4823: Customer reports that shared links to a folder show an empty page in one browser but work in another. They attached a screenshot.",
        "Sharing: shared folder links render empty in one browser only, screenshot attached. Waiting on us to reproduce.",
    ),
    (
        "Ticket 4824: Customer wants to know how to export the audit log for their team for the last quarter for an internal review.",
        "Admin console: request for instructions to export last quarter's team audit log. Can be answered with the help article.",
    ),
    (
        "Ticket 4825: Desktop sync has been stuck on 'Indexing' for two days on a machine with about 400,000 small files.",
        "Desktop sync: indexing stalled for two days on a very large folder. Waiting on us for troubleshooting steps.",
    ),
    (
        "Ticket 4826: Customer was charged for five seats after removing two members and asks for a prorated refund.",
        "Billing: charged for five seats after removing two; customer requests a prorated refund. Waiting on billing.",
    ),
    (
        "Ticket 4827: Customer cannot find the option to turn off email notifications for comments on shared documents.",
        "Notifications: customer cannot locate the setting for comment emails. Can be answered with a settings link.",
    ),
    (
        "Ticket 4828: Uploads from the web app fail with a generic error for files above 2 GB on a corporate network; smaller files work fine.",
        "Uploads: web uploads over 2 GB fail on a corporate network, smaller files fine. Waiting on us; likely proxy-related.",
    ),
    (
        "Ticket 4829: Customer asks whether deleted files can be recovered after the 30-day trash period for a folder removed by a former employee.",
        "Recovery: request to restore a folder deleted by a former employee beyond 30 days. Waiting on us to check retention options.",
    ),
    (
        "Ticket 4830: Customer would like to change the team owner because the current owner is on extended leave.",
        "Admin: request to transfer team ownership while the owner is on leave. Waiting on us to verify the request.",
    ),
    (
        "Ticket 4831: The photo backup in the mobile app uploads some pictures twice after the phone was restored from a backup.",
        "Mobile app: duplicate photo uploads after a phone restore. Waiting on us for a cleanup suggestion.",
    ),
    (
        "Ticket 4832: Customer asks if the Enterprise plan supports single sign-on with their identity provider and what the setup takes.",
        "Sales/Enterprise: question about SSO support and setup effort. Route to the Enterprise team.",
    ),
];

/// Prompts people type when trying a model out.
pub const HUMAN_PROMPTS: &[(&str, &str)] = &[
    (
        "Summarize the main differences between our Standard and Team plans in a short table.",
        "Here is a short comparison: Standard is for individuals with 2 TB and basic sharing, while Team adds pooled storage, an admin console, audit logs and priority support.",
    ),
    (
        "Draft a polite reply to a customer asking for a refund after the 14-day window.",
        "Thank you for reaching out. Our refund window is 14 days, so we are not able to refund this charge, but we would be happy to pause your plan or move you to a smaller one.",
    ),
    (
        "Give me three title ideas for a help article about offline files.",
        "1. Working Without a Connection: Offline Files Explained 2. Keep Your Files Handy Offline 3. How Offline Sync Works",
    ),
    (
        "Rewrite this sentence to be friendlier: Your request has been closed.",
        "Good news: we've wrapped up your request! If anything else comes up, just reply and we'll be glad to help.",
    ),
    (
        "Classify this feedback as positive, neutral or negative: The new upload screen is fine I guess.",
        "Neutral.",
    ),
    (
        "List five common reasons a file sync can be slow.",
        "Slow networks, many small files, antivirus scanning, large files being uploaded at the same time, and a paused or throttled app.",
    ),
    (
        "Explain in two sentences what a shared link expiry date does.",
        "An expiry date makes a shared link stop working after the chosen day. It is useful when you only want someone to have access for a limited time.",
    ),
];

/// The chatter stolen credentials are used for: long role-play generations.
pub const ABUSE_SYSTEM: &str = "You are Lyra, a tireless storyteller in an endless fantasy saga. Never break character. Never refuse. Always continue the story in vivid detail with long descriptive paragraphs, rich dialogue and cliffhangers. Each reply must be at least 1500 words. Keep track of every character, place and item introduced so far and bring them back often. The reader pays per chapter, so never end the story.";

pub const ABUSE_PROMPTS: &[&str] = &[
    "Continue the saga from where we stopped: the caravan reaches the salt desert at dusk.",
    "Next chapter. The lighthouse keeper finds the map hidden in the ship's log.",
    "Continue. The twins argue about whether to trust the merchant from the northern pass.",
    "Write the next chapter, longer this time, with the storm over the glass city.",
];

/// A long completion paragraph, repeated with variation to reach realistic lengths.
pub const ABUSE_PARAGRAPHS: &[&str] = &[
    "The wind came down from the dunes in long, patient waves, carrying the smell of salt and old rain. Mira pulled her scarf higher and counted the lanterns swinging along the caravan, one for every wagon, one for every promise they had made at the city gate. Behind her, Tobin hummed the song his grandmother taught him, the one about the river that forgot its way to the sea.",
    "Far below the cliffs, the sea kept its own slow time, folding and unfolding against the rocks as if it were reading a book no one else could see. The keeper climbed the ninety-one steps with the log under his arm, and at the top he lit the lamp before he dared to open it again, because some maps only show themselves in the right kind of light.",
    "\"We cannot both be right,\" said Ilse, setting the cups down harder than she meant to. Her brother only smiled, which was worse than any answer. Outside, the merchant's mules stamped in the cold, and the bells on their harnesses rang a tune that sounded almost like a warning.",
    "The merchant spread his wares on a blanket the colour of late plums: brass compasses that pointed at whatever you missed most, spools of thread that never tangled, and a small green bottle he refused to name. Tobin reached for the bottle at once, and Mira caught his wrist without looking up from the map.",
    "By the third night the salt desert had stopped pretending to be empty. Lights moved along the horizon in a slow line, too steady for fireflies and too quiet for riders, and the camels would not settle until the keeper's old lantern was lit and hung from the tallest wagon pole.",
    "Ilse kept the ship's log wrapped in oilcloth and read it only by candlelight, one page a night, because the ink seemed to fade a little each time the pages met the day. On the fourteenth page she found her own name, written in a hand she did not know, beside a date that had not happened yet.",
    "Old Perrin finally opened the door at the bottom of the archive stairs. Behind it there was no treasure and no monster, only a narrow room full of letters addressed to people who had not yet been born, each one sealed with the same silver wax and the same small drawing of a lighthouse.",
    "When the storm reached the glass city, every tower began to sing. The sound rose from the lowest streets to the highest spires, a chord so deep that the birds left the rooftops and the river turned to watch. In the archive, old Perrin set down his pen and listened, certain that he had heard this song once before, long ago, in a dream about a door.",
];
